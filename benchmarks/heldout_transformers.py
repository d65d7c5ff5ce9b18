"""Held-out check of the probe's defaults on transformers architectures the zoo never used.

Tiny configs, random init (no download), one probe per seed (0, 1, 2) with default bounds, in
train mode, the loss being the model's own (`labels` given). Needs `transformers` in the venv:

    python benchmarks/heldout_transformers.py [NAME ...]

Results and what they led to: docs/gradcheck-defaults.md, "Held-out: transformers architectures".
"""

import json
import sys
import warnings

import torch
import transformers as T

from pytest_gradcheck._probe import probe

warnings.filterwarnings("ignore")
B, L = 4, 16
small = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)


def ids(vocab=100, length=L):
    return torch.randint(0, vocab, (B, length))


def images(size):
    return {"pixel_values": torch.randn(B, 3, size, size), "labels": torch.randint(0, 10, (B,))}


def text_lm(config_cls, model_cls, **kw):
    cfg = config_cls(vocab_size=100, **{**small, **kw})
    m = model_cls(cfg)
    x = ids()
    return m, {"input_ids": x, "labels": x}


def text_cls(config_cls, model_cls, **kw):
    cfg = config_cls(vocab_size=100, num_labels=3, **{**small, **kw})
    m = model_cls(cfg)
    return m, {"input_ids": ids(), "labels": torch.randint(0, 3, (B,))}


def cases():
    yield (
        "distilbert_mlm",
        lambda: text_lm(
            T.DistilBertConfig,
            T.DistilBertForMaskedLM,
            dim=64,
            n_layers=2,
            n_heads=4,
            hidden_dim=128,
        ),
    )
    yield (
        "roberta_cls",
        lambda: text_cls(
            T.RobertaConfig, T.RobertaForSequenceClassification, max_position_embeddings=64
        ),
    )
    yield (
        "electra_cls",
        lambda: text_cls(T.ElectraConfig, T.ElectraForSequenceClassification, embedding_size=32),
    )
    yield "albert_mlm", lambda: text_lm(T.AlbertConfig, T.AlbertForMaskedLM, embedding_size=32)
    yield "gpt_neox_lm", lambda: text_lm(T.GPTNeoXConfig, T.GPTNeoXForCausalLM)
    yield (
        "mistral_lm",
        lambda: text_lm(T.MistralConfig, T.MistralForCausalLM, num_key_value_heads=2),
    )
    yield "qwen2_lm", lambda: text_lm(T.Qwen2Config, T.Qwen2ForCausalLM, num_key_value_heads=2)

    def opt():
        cfg = T.OPTConfig(
            vocab_size=100,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            ffn_dim=128,
            word_embed_proj_dim=64,
        )
        x = ids()
        return T.OPTForCausalLM(cfg), {"input_ids": x, "labels": x}

    yield "opt_lm", opt

    def t5():
        cfg = T.T5Config(
            vocab_size=100,
            d_model=64,
            d_kv=16,
            d_ff=128,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            decoder_start_token_id=0,
            pad_token_id=0,
        )
        return T.T5ForConditionalGeneration(cfg), {"input_ids": ids(), "labels": ids()}

    yield "t5_seq2seq", t5

    def bart():
        cfg = T.BartConfig(
            vocab_size=100,
            d_model=64,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            max_position_embeddings=64,
        )
        return T.BartForConditionalGeneration(cfg), {"input_ids": ids(), "labels": ids()}

    yield "bart_seq2seq", bart

    def vit():
        cfg = T.ViTConfig(image_size=32, patch_size=8, num_channels=3, num_labels=10, **small)
        return T.ViTForImageClassification(cfg), images(32)

    yield "vit_cls", vit

    def convnext():
        cfg = T.ConvNextConfig(
            num_channels=3, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 2, 1], num_labels=10
        )
        return T.ConvNextForImageClassification(cfg), images(64)

    yield "convnext_cls", convnext

    def resnet():
        cfg = T.ResNetConfig(
            num_channels=3,
            embedding_size=16,
            hidden_sizes=[16, 32, 64, 128],
            depths=[1, 1, 1, 1],
            num_labels=10,
        )
        return T.ResNetForImageClassification(cfg), images(64)

    yield "hf_resnet_cls", resnet

    def swin():
        cfg = T.SwinConfig(
            image_size=32,
            patch_size=4,
            embed_dim=16,
            depths=[1, 1],
            num_heads=[2, 4],
            window_size=4,
            num_labels=10,
        )
        return T.SwinForImageClassification(cfg), images(32)

    yield "swin_cls", swin

    def w2v():
        cfg = T.Wav2Vec2Config(
            vocab_size=32,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            conv_dim=(32, 32, 32),
            conv_stride=(5, 2, 2),
            conv_kernel=(10, 3, 3),
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4,
            ctc_loss_reduction="mean",
            pad_token_id=0,
        )
        m = T.Wav2Vec2ForCTC(cfg)
        return m, {"input_values": torch.randn(B, 4000), "labels": torch.randint(1, 32, (B, 5))}

    yield "wav2vec2_ctc", w2v

    def whisper():
        cfg = T.WhisperConfig(
            vocab_size=100,
            num_mel_bins=16,
            d_model=64,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            max_source_positions=32,
            max_target_positions=32,
            pad_token_id=0,
            decoder_start_token_id=1,
        )
        return T.WhisperForConditionalGeneration(cfg), {
            "input_features": torch.randn(B, 16, 64),
            "labels": ids(length=8),
        }

    yield "whisper_s2s", whisper

    def clip():
        cfg = T.CLIPConfig(
            text_config=dict(vocab_size=100, **small, max_position_embeddings=32),
            vision_config=dict(image_size=32, patch_size=8, **small),
            projection_dim=32,
        )
        m = T.CLIPModel(cfg)
        return m, {
            "input_ids": ids(),
            "pixel_values": torch.randn(B, 3, 32, 32),
            "return_loss": True,
        }

    yield "clip_contrastive", clip


results = {}
for name, build in cases():
    if len(sys.argv) > 1 and name not in sys.argv[1:]:
        continue
    outcome = []
    for seed in range(3):
        torch.manual_seed(seed)
        try:
            model, inputs = build()
            report = probe(model, inputs, seed=seed)
            outcome.append(
                "healthy"
                if report.ok
                else "PROBLEMS: "
                + "; ".join(f"{p.code} {p.module} {p.value}" for p in report.problems)
            )
        except Exception as exc:
            outcome.append(f"ERROR {type(exc).__name__}: {str(exc)[:200]}")
    results[name] = outcome
    print(name, outcome, flush=True)
print(json.dumps(results, indent=1))
