"""The failure-mode catalog shared by both halves: nnlint rules and gradcheck findings point here.

A failure mode is described once. A static rule (``nnlint rule NN401``) and a dynamic finding of the
gradient probe name the same ``FailureMode`` so that both explain the phenomenon in the same words.
This module is pure data: it imports neither libcst nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FailureMode:
    id: str
    title: str
    summary: str
    why: str
    static_signs: tuple[str, ...]
    dynamic_signs: tuple[str, ...]
    remedies: tuple[str, ...]
    dynamic_checks: tuple[str, ...] = ()
    """The ``pytest_gradcheck`` checks that measure this mode, each ``name: what it measures``."""

    @property
    def remedy(self) -> str:
        """The one-line remedy printed under a finding."""
        return self.remedies[0]

    @property
    def doc_url(self) -> str:
        return f"{DOCS_BASE}/failure-modes.md#{self.id}"

    @property
    def check_names(self) -> tuple[str, ...]:
        """The names of the dynamic checks alone (``assert_relu_alive``, ...)."""
        return tuple(check.split(":", 1)[0].strip() for check in self.dynamic_checks)


DOCS_BASE = "https://github.com/nnlint/nnlint/blob/main/docs"

VANISHING_GRADIENTS = FailureMode(
    id="vanishing-gradients",
    title="Vanishing gradients",
    summary="Gradients shrink geometrically on their way back to the first layers, which then "
    "learn very slowly or not at all.",
    why="The gradient of a low layer is a product of per-layer factors. The derivative of a "
    "sigmoid is at most 0.25 and that of a saturated tanh is near 0, so in a deep stack of them "
    "the product shrinks with every layer.",
    static_signs=("a deep stack of sigmoid/tanh-activated hidden layers",),
    dynamic_signs=(
        "gradient norms of the first layers orders of magnitude below those of the last",
        "sigmoid/tanh units saturated (outputs pinned near their limits)",
    ),
    remedies=(
        "use ReLU-family activations in hidden layers, add normalization (BatchNorm/LayerNorm) or "
        "residual connections",
        "initialize with Xavier/Glorot (tanh) or Kaiming/He (ReLU) schemes",
    ),
    dynamic_checks=(
        "assert_no_vanishing_gradients: first/last weight-layer gradient ratio "
        "(min_vanishing_ratio) and per-layer gradient RMS (min_grad_norm)",
        "assert_no_saturation: saturated sigmoid/tanh units (max_saturated_fraction)",
        "assert_training_healthy: update-to-weight ratio of a layer below min_update_ratio",
    ),
)

EXPLODING_GRADIENTS = FailureMode(
    id="exploding-gradients",
    title="Exploding gradients",
    summary="Gradients grow on their way back to the first layers until training diverges "
    "(loss jumps, becomes inf/NaN).",
    why="With large weights the same product of per-layer factors is a product of large "
    "numbers, so the low layers receive huge updates and training cannot converge.",
    static_signs=(
        "a deep plain stack with no normalization",
        "a learning-rate literal far above the usual range for its optimizer",
        "huge initial weights",
    ),
    dynamic_signs=(
        "per-layer gradient norms above a bound, growing with depth",
        "inf/NaN in the loss or the gradients",
    ),
    remedies=(
        "lower the learning rate, add normalization (BatchNorm/LayerNorm) and clip gradients "
        "(torch.nn.utils.clip_grad_norm_ before optimizer.step())",
        "use a standard initialization instead of large constant or wide-range weights",
    ),
    dynamic_checks=(
        "assert_no_exploding_gradients: per-layer gradient norm (max_grad_norm) and "
        "first/last weight-layer gradient ratio (max_exploding_ratio)",
        "assert_grad_norms_within: per-layer gradient norm between min_grad_norm and max_grad_norm",
        "assert_training_healthy: update-to-weight ratio above max_update_ratio, NaN/Inf "
        "appearing during a short run",
    ),
)

NON_FINITE = FailureMode(
    id="non-finite",
    title="Non-finite values (NaN/Inf)",
    summary="A forward output, the loss or a gradient contains NaN or Inf; every update after it "
    "poisons the weights.",
    why="NaN propagates through every arithmetic operation: one non-finite gradient turns the "
    "weights it touches into NaN and the model never recovers.",
    static_signs=(
        "sigmoid followed by a loss that takes probabilities (log of 0)",
        "division or log without an epsilon",
    ),
    dynamic_signs=("the first tensor (forward output, loss or gradient) that holds NaN/Inf",),
    remedies=(
        "find the first layer that produces NaN/Inf; use numerically stable ops (log_softmax, "
        "BCEWithLogitsLoss, an epsilon in divisions and logs) and a lower learning rate",
    ),
    dynamic_checks=(
        "assert_finite_gradients: NaN/Inf in the output, the loss or a gradient, and where it "
        "began",
        "assert_training_healthy: NaN/Inf appearing in the loss or the weights during a short "
        "run, with the step and the layer",
    ),
)

DEAD_RELU = FailureMode(
    id="dead-relu",
    title="Dead ReLU units",
    summary="ReLU units whose input is negative for every example output 0, pass no gradient and "
    "may never recover.",
    why="Once a unit's weighted sum stays below 0 for every input, its gradient is 0 too, so no "
    "update can bring it back. One large update (a high learning rate) pushing the bias far "
    "negative is the usual cause.",
    static_signs=(
        "a learning rate high enough to knock units out",
        "a constant negative bias initialization",
    ),
    dynamic_signs=("the fraction of ReLU units that output 0 for every example of a batch",),
    remedies=(
        "lower the learning rate, use LeakyReLU/GELU-style activations and a standard "
        "(Kaiming/He) initialization with zero or small positive biases",
    ),
    dynamic_checks=(
        "assert_relu_alive: dead units of each ReLU at the start (max_dead_fraction)",
        "assert_training_healthy: units killed by a few optimizer steps (max_killed_fraction)",
    ),
)

SATURATION = FailureMode(
    id="saturation",
    title="Saturated sigmoid/tanh units",
    summary="Sigmoid or tanh outputs pinned near their limits, where the derivative is almost 0.",
    why="A saturated unit passes almost no gradient back: it stops learning and starves the layers "
    "below it (a cause of vanishing gradients).",
    static_signs=("sigmoid/tanh fed by unnormalized, large pre-activations",),
    dynamic_signs=(
        "the fraction of sigmoid/tanh units whose output is within a hair of 0/1 or -1/1",
    ),
    remedies=(
        "normalize the inputs of the layer (BatchNorm/LayerNorm), use a smaller initialization "
        "(Xavier/Glorot), or switch hidden activations to the ReLU family",
    ),
    dynamic_checks=("assert_no_saturation: saturated sigmoid/tanh units (max_saturated_fraction)",),
)

NO_GRADIENT = FailureMode(
    id="no-gradient",
    title="Parameters without a gradient",
    summary="A parameter that requires grad receives no gradient (or an exactly zero one): it "
    "never trains.",
    why="An unused branch, a detached tensor (`.detach()`, `.data`, `torch.no_grad()`), or an "
    "integer cast cuts the parameter out of the graph, so the optimizer never moves it.",
    static_signs=("`.detach()`/`.data` on a path to the loss", "modules built but never called"),
    dynamic_signs=(
        "parameters whose `.grad` is None or all zeros after backward, in every one of up to "
        "four passes (a layer skipped at random, by LayerDrop or stochastic depth, gets its "
        "gradient in another pass and is not reported)",
    ),
    remedies=(
        "call the module in forward (or delete it), remove `.detach()`/`.data` on the path to "
        "the loss, or set `requires_grad=False` for parameters that are frozen on purpose",
    ),
    dynamic_checks=(
        "assert_all_parameters_get_gradients: parameters whose gradient is None or all zeros",
        "assert_can_overfit: parameters that never move while the model fails to fit one batch",
    ),
)

DROPOUT_MISUSE = FailureMode(
    id="dropout-misuse",
    title="Dropout misuse",
    summary="Dropout that does nothing (rate 0), drops everything (rate 1), has an impossible "
    "rate, or stays on at evaluation time.",
    why="Rate 0 is no regularization at all, usually a leftover; rate 1 zeroes every activation so "
    "the model learns nothing; functional dropout without `training=self.training` keeps "
    "dropping units in eval mode, so evaluation is noisy and wrong.",
    static_signs=(
        "a dropout layer or call with a literal rate of 0 or 1 (or outside [0, 1])",
        "functional dropout that stays on at evaluation time",
    ),
    dynamic_signs=("dropout active in train mode and off in eval mode, at the rate asked",),
    remedies=(
        "use a rate strictly between 0 and 1 (0.1-0.5 is typical), delete dropout you do not "
        "want, and pass `training=self.training` to functional dropout",
    ),
    dynamic_checks=(
        "assert_dropout_healthy: every dropout (module or functional) drops about the rate it "
        "claims in train mode, none at rate 0 or 1, and two eval-mode forwards agree",
    ),
)

LEARNING_RATE = FailureMode(
    id="learning-rate",
    title="Learning rate out of range",
    summary="Each optimizer step changes the weights by far too much (they diverge, ReLU units "
    "die, NaN appears) or by far too little (nothing learns).",
    why="The update of a layer relative to its weights, log10(mean|dW| / mean|W|), is about -3 "
    "in healthy training. Near 0 or above, one step rewrites the layer: the loss jumps, a bias "
    "pushed far negative kills its ReLU units for good, and the weights can overflow to Inf/NaN. "
    "Far below -5, the weights barely move and training stalls.",
    static_signs=("a learning-rate literal far above the usual range for its optimizer",),
    dynamic_signs=(
        "a per-layer update-to-weight ratio log10(mean|dW| / mean|W|) far above -1 or far below "
        "-5 after one optimizer step",
        "ReLU units alive at the start and dead after a few steps; NaN/Inf appearing mid-run",
    ),
    remedies=(
        "lower the learning rate (by 10x per try) when updates are too large, raise it when they "
        "are tiny; warm it up over the first steps, and clip gradients if spikes remain",
    ),
    dynamic_checks=(
        "assert_training_healthy: per-layer update-to-weight ratio after one step "
        "(max_update_ratio, min_update_ratio), units killed by the updates "
        "(max_killed_fraction), NaN/Inf appearing during the run",
    ),
)

NOT_LEARNING = FailureMode(
    id="not-learning",
    title="The model does not learn",
    summary="The loss does not go down over a few optimizer steps, or the model cannot even "
    "overfit a single batch.",
    why="Any working model can memorise one small batch. When it cannot, something cuts the "
    "path from the loss to the weights (frozen or detached parameters, a loss on a constant), "
    "the optimizer does not get the gradients (no zero_grad, a step on other parameters), or the "
    "output and the loss do not fit each other (double softmax).",
    static_signs=(
        "`.detach()`/`.data` or `torch.no_grad()` on the path to the loss",
        "an output layer that does not fit its loss (softmax fed to a loss that applies "
        "log-softmax itself)",
        "a training loop that never resets gradients",
    ),
    dynamic_signs=(
        "the mean loss of the last steps of a short run is not below that of the first steps",
        "a one-batch overfit run that never reaches its target loss, with parameters that never "
        "moved",
    ),
    remedies=(
        "check that every parameter meant to train requires grad and reaches the loss (no "
        "`.detach()`), that the optimizer holds the model's parameters, and that the output fits "
        "the loss; then try a learning rate 10x higher or lower",
    ),
    dynamic_checks=(
        "assert_training_healthy: the loss decreases over a short run (windows of steps, not "
        "single steps)",
        "assert_can_overfit: one batch is fitted down to a target loss",
    ),
)

LOSS_OUTPUT_MISMATCH = FailureMode(
    id="loss-output-mismatch",
    title="Output layer and loss disagree",
    summary="The model's last activation and its loss do not fit together: the activation is "
    "applied twice (a softmax before a loss that applies log-softmax itself), or the output "
    "cannot express what the loss asks for (a softmax over one unit, a ReLU before "
    "cross-entropy).",
    why="A loss on logits (`CrossEntropyLoss`, `BCEWithLogitsLoss`, `from_logits=True`) applies "
    "the softmax or sigmoid itself. Fed probabilities, it squashes them a second time: every "
    "prediction lands in a narrow band, the gradients shrink and training stalls or learns a "
    "worse model. A softmax over one unit is the constant 1.0 and passes no gradient; a ReLU "
    "output gives zero probability mass to every negative logit.",
    static_signs=(
        "a softmax/sigmoid output fed to a loss that takes logits",
        "a softmax over a single unit, a ReLU output trained with cross-entropy",
        "a multi-class softmax output compiled with binary cross-entropy",
    ),
    dynamic_signs=(
        "a loss that barely moves from its initial value",
        "gradient norms of the last layer far below those of a healthy run",
    ),
    dynamic_checks=(
        "assert_training_healthy: the loss decreases over a short run (windows of steps, not "
        "single steps)",
        "assert_can_overfit: one batch is fitted down to a target loss",
    ),
    remedies=(
        "feed the loss the raw logits of the last linear layer (drop the softmax/sigmoid, or use "
        "a loss that takes probabilities), and match the output to the task: sigmoid for one "
        "unit, softmax over one unit per class",
    ),
)

CONSTANT_INITIALIZATION = FailureMode(
    id="constant-initialization",
    title="Constant weight initialization",
    summary="Weights that start at zero or at one constant: every unit of a layer computes the "
    "same thing and gets the same update, so the layer behaves like a single unit.",
    why="Random initial weights break the symmetry between the units of a layer. With constant "
    "weights in every layer, all units of a layer see the same gradient and stay identical "
    "forever; with zeros before a ReLU the units output 0, pass no gradient and never start "
    "learning.",
    static_signs=(
        "zeros_/constant_ (or .zero_()/.fill_()) on the weights of every Linear/Conv layer",
        "a Keras hidden layer with kernel_initializer='zeros' or a Constant initializer",
    ),
    dynamic_signs=(
        "parameters whose `.grad` is all zeros after backward",
        "units of a layer with identical weights and gradients",
    ),
    dynamic_checks=(
        "assert_all_parameters_get_gradients: parameters whose gradient is None or all zeros",
        "assert_relu_alive: dead units of each ReLU at the start (max_dead_fraction)",
    ),
    remedies=(
        "keep the framework's default initialization for weights (Kaiming/He for ReLU, "
        "Xavier/Glorot for tanh) and initialize only biases to constants",
    ),
)

LINEAR_COLLAPSE = FailureMode(
    id="linear-collapse",
    title="Layers that collapse into one",
    summary="Two or more weight layers applied in a row with no nonlinearity between them compute "
    "one linear map: the extra layer adds parameters and depth (and gradient-flow risk) but no "
    "expressive power.",
    why="The composition of linear maps is linear, so `Linear(a, b)` followed by `Linear(b, c)` "
    "can only learn what a single `Linear(a, c)` can. A forgotten activation is the usual cause; "
    "the deeper product of weight matrices also makes gradients vanish or explode more easily.",
    static_signs=("two weight layers in a row with no activation between them in a hidden path",),
    dynamic_signs=(
        "none measured directly: the model underfits like a shallower one, and a model that is "
        "linear end to end may not fit even one batch",
    ),
    remedies=(
        "put an activation (ReLU/GELU) between the layers, or merge them into one layer when a "
        "low-rank factorisation is not the intent",
    ),
    dynamic_checks=("assert_can_overfit: one batch is fitted down to a target loss",),
)

FAILURE_MODES: dict[str, FailureMode] = {
    fm.id: fm
    for fm in (
        VANISHING_GRADIENTS,
        EXPLODING_GRADIENTS,
        NON_FINITE,
        DEAD_RELU,
        SATURATION,
        NO_GRADIENT,
        DROPOUT_MISUSE,
        LEARNING_RATE,
        NOT_LEARNING,
        LOSS_OUTPUT_MISMATCH,
        CONSTANT_INITIALIZATION,
        LINEAR_COLLAPSE,
    )
}


def get(mode_id: str) -> FailureMode:
    """Look a failure mode up by id; raises KeyError naming the known ids."""
    try:
        return FAILURE_MODES[mode_id]
    except KeyError:
        raise KeyError(
            f"unknown failure mode {mode_id!r}; known: {', '.join(sorted(FAILURE_MODES))}"
        ) from None


def static_rules(mode_id: str) -> list[tuple[str, str]]:
    """``(code, name)`` of every nnlint rule that points at the failure mode ``mode_id``.

    The rules say which failure mode they guard; this reads the rule registry (and with it
    libcst) on first use, so importing the catalog stays cheap. Empty when libcst is missing.
    """
    get(mode_id)
    try:
        from nnlint.rules import all_rules
    except ImportError:  # the catalog is also read by pytest-gradcheck alone
        return []
    return [
        (rule.code, rule.name)
        for rule in all_rules()
        if rule.failure_mode is not None and rule.failure_mode.id == mode_id
    ]


def static_twin(mode_id: str) -> str:
    """The line a dynamic finding adds to name the nnlint rules of the same failure mode."""
    codes = [code for code, _ in static_rules(mode_id)]
    rules = f"nnlint {', '.join(codes)} flag it statically; " if codes else ""
    return f"{rules}`nnlint rule {mode_id}` explains it"


def render_markdown() -> str:
    """The catalog as the Markdown page ``docs/failure-modes.md`` (kept in sync by a test)."""
    out = [
        "# Failure modes",
        "",
        "<!-- Generated from nnlint/catalog.py by `python -m nnlint.catalog`; do not edit. -->",
        "",
        "One catalog shared by both halves: every `nnlint` rule and every `pytest-gradcheck`",
        "finding names one of these failure modes, so the static risk and the measured symptom",
        "are explained in the same words.",
        "",
    ]
    for mode in FAILURE_MODES.values():
        out += [f'<a id="{mode.id}"></a>', f"## {mode.title} (`{mode.id}`)", "", mode.summary, ""]
        out += ["**Why it hurts training.** " + mode.why, ""]
        out += ["**Static signs** (what `nnlint` looks for):", ""]
        out += [f"- {s}" for s in mode.static_signs] + [""]
        out += ["**Dynamic signs** (what `pytest-gradcheck` measures):", ""]
        out += [f"- {s}" for s in mode.dynamic_signs] + [""]
        rules = static_rules(mode.id)
        if rules:
            out += ["**nnlint rules:** " + ", ".join(f"`{c}` {n}" for c, n in rules), ""]
        if mode.dynamic_checks:
            out += ["**pytest-gradcheck checks:**", ""]
            for check in mode.dynamic_checks:
                name, _, what = check.partition(":")
                out.append(f"- `{name.strip()}`: {what.strip()}")
            out.append("")
        out += ["**Usual fixes:**", ""] + [f"- {r}" for r in mode.remedies] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown(), end="")
