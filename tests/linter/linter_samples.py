"""Small real-looking model files shared by the CLI and runner tests."""

DROPOUT_ONE = (
    "import torch.nn as nn\n\n\n"
    "class Classifier(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.fc = nn.Linear(128, 10)\n"
    "        self.drop = nn.Dropout(p=1.0)\n"
)
FUNCTIONAL_DROPOUT = (
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n\n\n"
    "class Head(nn.Module):\n"
    "    def forward(self, x):\n"
    "        return F.dropout(x, p=0.2)\n"
)
