"""What each PyTorch and Keras layer, function and tensor method is to the architecture model:
its kind and, for activations, which nonlinearity. Pure data, canonical names."""

from __future__ import annotations

from nnlint.facts import DROPOUT_SPECS

# name -> (kind, activation)
LayerInfo = tuple[str, str | None]

_TORCH_ACTIVATIONS = {
    "ReLU": "relu",
    "ReLU6": "relu",
    "RReLU": "leaky_relu",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "ELU": "elu",
    "CELU": "elu",
    "SELU": "selu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Mish": "mish",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Hardtanh": "hardtanh",
    "Hardsigmoid": "hard_sigmoid",
    "Hardswish": "hardswish",
    "Softmax": "softmax",
    "Softmax2d": "softmax",
    "LogSoftmax": "log_softmax",
    "Softmin": "softmin",
    "Softplus": "softplus",
    "Softsign": "softsign",
    "Tanhshrink": "tanhshrink",
    "LogSigmoid": "log_sigmoid",
    "GLU": "glu",
    "Threshold": "relu",
}

_TORCH_KINDS: dict[str, tuple[str, ...]] = {
    "weight": (
        "Linear",
        "LazyLinear",
        "Bilinear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "LazyConv1d",
        "LazyConv2d",
        "LazyConv3d",
        "LazyConvTranspose1d",
        "LazyConvTranspose2d",
        "LazyConvTranspose3d",
        "Embedding",
        "EmbeddingBag",
    ),
    "norm": (
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "LazyBatchNorm1d",
        "LazyBatchNorm2d",
        "LazyBatchNorm3d",
        "SyncBatchNorm",
        "LayerNorm",
        "GroupNorm",
        "InstanceNorm1d",
        "InstanceNorm2d",
        "InstanceNorm3d",
        "LazyInstanceNorm1d",
        "LazyInstanceNorm2d",
        "LazyInstanceNorm3d",
        "RMSNorm",
    ),
    "recurrent": ("LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"),
    "attention": (
        "MultiheadAttention",
        "Transformer",
        "TransformerEncoder",
        "TransformerDecoder",
        "TransformerEncoderLayer",
        "TransformerDecoderLayer",
    ),
    "pooling": tuple(
        f"{p}{d}d"
        for p in (
            "MaxPool",
            "AvgPool",
            "AdaptiveAvgPool",
            "AdaptiveMaxPool",
            "LPPool",
            "FractionalMaxPool",
            "MaxUnpool",
        )
        for d in (1, 2, 3)
    ),
    "reshape": ("Flatten", "Unflatten", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle"),
    "other": (
        # Local response normalization (AlexNet's) has no learned scale and does not keep
        # activations in range the way batch or layer normalization does.
        "LocalResponseNorm",
        "CrossMapLRN2d",
        "Identity",
        "Upsample",
        "UpsamplingNearest2d",
        "UpsamplingBilinear2d",
        *(
            f"{p}Pad{d}d"
            for p in ("Zero", "Reflection", "Replication", "Constant", "Circular")
            for d in (1, 2, 3)
        ),
    ),
}

# Canonical class name -> (kind, activation).
LAYER_CLASSES: dict[str, LayerInfo] = {
    **{f"torch.nn.{name}": ("activation", act) for name, act in _TORCH_ACTIVATIONS.items()},
    **{f"torch.nn.{name}": (kind, None) for kind, names in _TORCH_KINDS.items() for name in names},
}

_KERAS_KINDS: dict[str, tuple[str, ...]] = {
    "weight": (
        "Dense",
        "EinsumDense",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Convolution1D",
        "Convolution2D",
        "Convolution3D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Conv3DTranspose",
        "SeparableConv1D",
        "SeparableConv2D",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "LocallyConnected1D",
        "LocallyConnected2D",
        "Embedding",
    ),
    "norm": (
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "UnitNormalization",
        "SpectralNormalization",
        "RMSNormalization",
    ),
    # Dropout layers come from the dropout family's spec table; noise regularizes the same way.
    "dropout": ("GaussianNoise",),
    "recurrent": (
        "LSTM",
        "GRU",
        "SimpleRNN",
        "RNN",
        "Bidirectional",
        "ConvLSTM1D",
        "ConvLSTM2D",
        "ConvLSTM3D",
        "CuDNNLSTM",
        "CuDNNGRU",
    ),
    "attention": ("MultiHeadAttention", "Attention", "AdditiveAttention", "GroupQueryAttention"),
    "pooling": tuple(
        f"{p}{d}D"
        for p in (
            "MaxPooling",
            "AveragePooling",
            "MaxPool",
            "AvgPool",
            "GlobalMaxPooling",
            "GlobalAveragePooling",
            "GlobalMaxPool",
            "GlobalAvgPool",
        )
        for d in (1, 2, 3)
    ),
    "reshape": ("Flatten", "Reshape", "Permute", "RepeatVector", "Cropping2D", "ZeroPadding2D"),
    # A Lambda has no weights, so it cannot hold a normalization layer's learned scale.
    "other": ("InputLayer", "UpSampling1D", "UpSampling2D", "UpSampling3D", "Rescaling", "Lambda"),
}
_KERAS_ACTIVATION_LAYERS = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "ELU": "elu",
    "Softmax": "softmax",
    "ThresholdedReLU": "relu",
}
LAYER_CLASSES.update(
    {f"keras.layers.{name}": (kind, None) for kind, names in _KERAS_KINDS.items() for name in names}
)
LAYER_CLASSES.update(
    {f"keras.layers.{name}": ("activation", act) for name, act in _KERAS_ACTIVATION_LAYERS.items()}
)
# `Activation("tanh")`: the nonlinearity is its argument.
LAYER_CLASSES["keras.layers.Activation"] = ("activation", None)

# Every dropout layer class the dropout rules know (one table for both families).
LAYER_CLASSES.update(
    {name: ("dropout", None) for name, spec in DROPOUT_SPECS.items() if spec.kind == "layer"}
)

# Layers whose weights are normalized by a wrapper (``spectral_norm(nn.Linear(...))``).
NORM_WRAPPERS = frozenset(
    {
        "torch.nn.utils.spectral_norm",
        "torch.nn.utils.weight_norm",
        "torch.nn.utils.parametrizations.spectral_norm",
        "torch.nn.utils.parametrizations.weight_norm",
        "keras.layers.SpectralNormalization",
    }
)

# Functional activations (``torch.sigmoid``, ``F.relu``, ``tf.nn.tanh``, ``keras.activations.x``).
_FUNCTIONAL_NAMES = {
    "relu": "relu",
    "relu_": "relu",
    "relu6": "relu",
    "leaky_relu": "leaky_relu",
    "leaky_relu_": "leaky_relu",
    "elu": "elu",
    "selu": "selu",
    "celu": "elu",
    "gelu": "gelu",
    "silu": "silu",
    "swish": "silu",
    "mish": "mish",
    "sigmoid": "sigmoid",
    "sigmoid_": "sigmoid",
    "tanh": "tanh",
    "tanh_": "tanh",
    "hardtanh": "hardtanh",
    "hard_sigmoid": "hard_sigmoid",
    "hardsigmoid": "hard_sigmoid",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "softplus": "softplus",
    "softsign": "softsign",
    "glu": "glu",
    "logsigmoid": "log_sigmoid",
}
FUNCTIONAL_ACTIVATIONS: dict[str, str] = {}
for _prefix in (
    "torch.nn.functional.",
    "torch.",
    "tensorflow.nn.",
    "tensorflow.math.",
    "keras.activations.",
):
    for _name, _act in _FUNCTIONAL_NAMES.items():
        FUNCTIONAL_ACTIVATIONS[_prefix + _name] = _act

# Tensor methods that are activations (``x.sigmoid()``).
METHOD_ACTIVATIONS = {
    "sigmoid": "sigmoid",
    "sigmoid_": "sigmoid",
    "tanh": "tanh",
    "tanh_": "tanh",
    "relu": "relu",
    "relu_": "relu",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
}

# Functional normalization and pooling; everything else in torch/F/tf is treated as opaque.
FUNCTIONAL_KINDS: dict[str, str] = {
    **{
        f"torch.nn.functional.{n}": "norm"
        for n in (
            "batch_norm",
            "layer_norm",
            "group_norm",
            "instance_norm",
            "normalize",
            "local_response_norm",
            "rms_norm",
        )
    },
    # Every functional dropout the dropout rules know.
    **{name: "dropout" for name, spec in DROPOUT_SPECS.items() if spec.kind == "functional"},
    **{
        f"torch.nn.functional.{p}{d}d": "pooling"
        for p in ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool")
        for d in (1, 2, 3)
    },
    **{f"torch.nn.functional.{n}": "weight" for n in ("linear", "conv1d", "conv2d", "conv3d")},
    "torch.flatten": "reshape",
    "torch.reshape": "reshape",
    "torch.squeeze": "reshape",
    "torch.unsqueeze": "reshape",
    "torch.transpose": "reshape",
    "torch.permute": "reshape",
    "torch.nn.functional.pad": "reshape",
    "torch.nn.functional.interpolate": "other",
    "tensorflow.reshape": "reshape",
    "tensorflow.nn.batch_normalization": "norm",
    "tensorflow.nn.l2_normalize": "norm",
}

# Tensor methods that leave the path as it is (shape and bookkeeping).
PASSTHROUGH_METHODS = frozenset(
    {
        "view",
        "reshape",
        "flatten",
        "permute",
        "transpose",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "float",
        "double",
        "half",
        "to",
        "type",
        "type_as",
        "clone",
        "detach",
        "cpu",
        "cuda",
        "expand",
        "expand_as",
        "view_as",
        "repeat",
        "mean",
        "sum",
        "max",
        "chunk",
        "split",
        "unbind",
        "narrow",
        "masked_fill",
    }
)

# Activation names that saturate (derivative near 0 away from the origin, ≤ 0.25 for sigmoid).
SATURATING = frozenset({"sigmoid", "tanh", "hard_sigmoid", "hardtanh", "softsign"})
# Activations that keep a deep plain stack healthy without normalization (self-normalizing).
SELF_NORMALIZING = frozenset({"selu"})

# Keras activation names as strings (``activation="tanh"``), canonical.
KERAS_ACTIVATION_STRINGS = {
    "relu": "relu",
    "relu6": "relu",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "selu": "selu",
    "gelu": "gelu",
    "silu": "silu",
    "swish": "silu",
    "mish": "mish",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "hard_sigmoid": "hard_sigmoid",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "softplus": "softplus",
    "softsign": "softsign",
    "linear": None,
    "exponential": "exponential",
}

# Containers: nn.Sequential applies its children in order; lists and dicts hold them.
SEQUENTIAL = frozenset({"torch.nn.Sequential", "keras.Sequential", "keras.models.Sequential"})
MODULE_LISTS = frozenset({"torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.ParameterList"})
KERAS_MODEL = frozenset(
    {
        "keras.Model",
        "keras.models.Model",
        "keras.models.Functional",
        "keras.src.models.Model",
        "keras.src.models.Functional",
        "keras.src.models.model.Model",
        "keras.src.models.functional.Functional",
        "keras.engine.training.Model",
        "keras.engine.functional.Functional",
    }
)
KERAS_INPUT = frozenset({"keras.Input", "keras.layers.Input"})
# Keras merge layers: their inputs are several branches of the graph.
KERAS_MERGES = frozenset(
    f"keras.layers.{n}"
    for n in (
        "Add",
        "add",
        "Concatenate",
        "concatenate",
        "Multiply",
        "multiply",
        "Average",
        "average",
        "Subtract",
        "subtract",
        "Maximum",
        "maximum",
    )
)
# Functions that make a new tensor shaped like their argument, unrelated to its values.
FRESH_TENSORS = frozenset(
    f"torch.{n}_like" for n in ("randn", "rand", "randint", "zeros", "ones", "full", "empty")
)
TORCH_CONCAT = frozenset(
    {"torch.cat", "torch.concat", "torch.concatenate", "torch.stack", "torch.add"}
)


def layer_info(qualname: str) -> LayerInfo | None:
    """(kind, activation) of a layer class, also under a framework submodule path
    (``torch.nn.modules.linear.Linear``, ``keras.layers.normalization.batch_normalization.X``)."""
    info = LAYER_CLASSES.get(qualname)
    if info is not None:
        return info
    for root in ("torch.nn.", "keras.layers."):
        if qualname.startswith(root):
            return LAYER_CLASSES.get(root + qualname.rsplit(".", 1)[-1])
    return None
