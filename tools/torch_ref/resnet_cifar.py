"""The CIFAR ResNet (He et al. 2016, section 4.2) with the option-A shortcut, as trained in the
checkpoints of shared/data/weights/resnet-cifar10: state_dict keys conv1, bn1, layer{1,2,3}.{i}.
{conv1,bn1,conv2,bn2}, linear. Our own definition, written from the paper's description."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2 if (stride != 1 or cin != cout) else None

    def shortcut(self, x):
        if self.pad is None:
            return x
        # option A: every other pixel, zero channels added on both sides
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, depth=20, num_classes=10):
        super().__init__()
        assert (depth - 2) % 6 == 0
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers = []
        cin = 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)

    def features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return F.avg_pool2d(x, x.shape[3]).flatten(1)

    def forward(self, x):
        return self.linear(self.features(x))


def build_cifar(depth=20):
    """A ResNet-20 for the training tools' smoke test (tools/train/families.py)."""
    return ResNetCifar(depth)


def cifar_metadata(depth=20):
    return {"seer.arch": f"resnet{depth}", "seer.preprocess": "cifar"}
