"""Inception-v3 as pytorch-fid uses it for FID (the TensorFlow 2015-12-05 graph ported to
PyTorch, checkpoint pt_inception-2015-12-05-6726825d.pth). Our own definition, written from
the architecture description (Szegedy et al. 2016, "Rethinking the Inception Architecture") and
the checkpoint's state_dict layout, which is torchvision's Inception3 without AuxLogits:

    Conv2d_1a_3x3.conv.weight, Conv2d_1a_3x3.bn.{weight,bias,running_mean,running_var}, ...
    Mixed_5b.branch1x1.conv.weight, ..., Mixed_7c.branch_pool.bn.running_var,
    fc.weight [1008, 2048], fc.bias [1008]

FID-specific details (TensorFlow's graph, not torchvision's ImageNet model): the pooling branch
of the A, C and first E blocks averages without counting the zero padding
(count_include_pad=False), and the last E block (Mixed_7c) max-pools in that branch. The input,
[0, 1] images at any size, is resized bilinearly to 299x299 (align_corners=False) and mapped to
[-1, 1]; the FID features are the 2048-d global average pool after Mixed_7c ("pool3").

width_div divides every channel count (1, 2, 4, 8 or 16) so that small test fixtures keep every
block type; width_div=1 is the real network.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm (eps 1e-3, TensorFlow's) -> ReLU."""

    def __init__(self, cin, cout, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35x35 block (Mixed_5b/c/d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""

    def __init__(self, cin, pool_features, w):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64 // w, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48 // w, 1)
        self.branch5x5_2 = BasicConv2d(48 // w, 64 // w, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // w, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // w, 96 // w, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // w, 96 // w, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features // w, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_avg3(x))
        return torch.cat([a, b, c, d], 1)


class BlockB(nn.Module):
    """35 -> 17 reduction (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, cin, w):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384 // w, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // w, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // w, 96 // w, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // w, 96 // w, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    """17x17 block with factorized 7x7 convolutions (Mixed_6b..6e)."""

    def __init__(self, cin, c7, w):
        super().__init__()
        c7 //= w
        self.branch1x1 = BasicConv2d(cin, 192 // w, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192 // w, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192 // w, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192 // w, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = m(c)
        d = self.branch_pool(_avg3(x))
        return torch.cat([a, b, c, d], 1)


class BlockD(nn.Module):
    """17 -> 8 reduction (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, cin, w):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192 // w, 1)
        self.branch3x3_2 = BasicConv2d(192 // w, 320 // w, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192 // w, 1)
        self.branch7x7x3_2 = BasicConv2d(192 // w, 192 // w, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192 // w, 192 // w, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192 // w, 192 // w, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = m(b)
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """8x8 block with split 1x3/3x1 outputs (Mixed_7b: avg pool branch; Mixed_7c: max pool)."""

    def __init__(self, cin, w, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320 // w, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384 // w, 1)
        self.branch3x3_2a = BasicConv2d(384 // w, 384 // w, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384 // w, 384 // w, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448 // w, 1)
        self.branch3x3dbl_2 = BasicConv2d(448 // w, 384 // w, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384 // w, 384 // w, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384 // w, 384 // w, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192 // w, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        p = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([a, b, c, self.branch_pool(p)], 1)


class InceptionFID(nn.Module):
    def __init__(self, width_div=1, num_classes=1008):
        super().__init__()
        w = width_div
        assert w in (1, 2, 4, 8, 16)
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32 // w, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32 // w, 32 // w, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32 // w, 64 // w, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64 // w, 80 // w, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80 // w, 192 // w, 3)
        self.Mixed_5b = BlockA(192 // w, 32, w)
        self.Mixed_5c = BlockA(256 // w, 64, w)
        self.Mixed_5d = BlockA(288 // w, 64, w)
        self.Mixed_6a = BlockB(288 // w, w)
        self.Mixed_6b = BlockC(768 // w, 128, w)
        self.Mixed_6c = BlockC(768 // w, 160, w)
        self.Mixed_6d = BlockC(768 // w, 160, w)
        self.Mixed_6e = BlockC(768 // w, 192, w)
        self.Mixed_7a = BlockD(768 // w, w)
        self.Mixed_7b = BlockE(1280 // w, w, max_pool=False)
        self.Mixed_7c = BlockE(2048 // w, w, max_pool=True)
        self.fc = nn.Linear(2048 // w, num_classes)

    def features(self, x):
        """x: [B, 3, H, W] in [0, 1] -> pool3 features [B, 2048 / width_div]."""
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # 147x147
        x = F.max_pool2d(x, 3, stride=2)                                   # 73x73
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))                      # 71x71
        x = F.max_pool2d(x, 3, stride=2)                                   # 35x35
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                     "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)                                     # ... 8x8
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        """Logits of the 1008 classes of the TensorFlow graph (dropout is identity in eval)."""
        return self.fc(self.features(x))
