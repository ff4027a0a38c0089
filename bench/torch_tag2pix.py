"""PyTorch twin of the Tag2Pix networks, for timing only (bench/run.ts calls it).

Written from /work/shared/REFERENCE.md: the generator (U-Net encoder, CVT encoder, FeatureConv,
SECat decoder with PixelShuffle, guide decoder), the CIT extractor (SE-ResNeXt-50 32x4d cut after
layer2) and the discriminator, with the published training iteration (CIT features without
gradient, D step, then G step; G's output is not detached in the D step, as in the official code).
Prints one JSON line: {"task", "model", "batch", "device", "medianMs", "runsMs", "peakRssMB",
"threads"} (and "peakGpuMB" on CUDA). --threads defaults to every core (os.cpu_count()). --device
cuda times on the GPU (synchronised before each clock reading) and fails with one clear line when
torch.cuda.is_available() is false. The arguments are checked before torch is imported, so
`--help` and bad arguments need no PyTorch.
"""
import argparse
import json
import os
import resource
import sys
import time

MODELS = {'small': (64, (2, 2, 2, 2)), '256': (256, (12, 8, 5, 5))}
DEFAULT_BATCH = {('small', 'colourise'): 4, ('small', 'train'): 4, ('256', 'colourise'): 1, ('256', 'train'): 2}


def parse_args(argv):
    p = argparse.ArgumentParser(description='PyTorch twin of tag2pix for timing (bench/run.ts drives it).')
    p.add_argument('--model', choices=sorted(MODELS), required=True)
    p.add_argument('--task', choices=['colourise', 'train'], required=True)
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    # Debian's python3-torch starts with one thread; PyTorch at its best uses every core.
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1, help='CPU threads (default: every core)')
    p.add_argument('--batch', type=int, default=0, help='batch size (0: the model and task default)')
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    a = p.parse_args(argv)
    if a.runs < 1 or a.warmup < 0 or a.batch < 0 or a.threads < 1:
        p.error('--runs and --threads must be >= 1; --warmup and --batch >= 0')
    if a.batch == 0:
        a.batch = DEFAULT_BATCH[(a.model, a.task)]
    if a.task == 'train' and a.batch < 2:
        p.error('a training iteration needs --batch >= 2 (BatchNorm in training mode)')
    return a


ARGS = parse_args(sys.argv[1:]) if __name__ == '__main__' else None

import torch  # noqa: E402  (after the argument check: --help and bad arguments need no PyTorch)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def lrelu():
    return nn.LeakyReLU(0.2)


class SECat(nn.Module):
    def __init__(self, channels, tag=64):
        super().__init__()
        self.fc1 = nn.Linear(channels + tag, channels // 16, bias=False)
        self.fc2 = nn.Linear(channels // 16, channels, bias=False)

    def forward(self, x, tag):
        pooled = x.mean((2, 3))
        y = torch.sigmoid(self.fc2(F.relu(self.fc1(torch.cat([pooled, tag], 1)))))
        return x * y[:, :, None, None]


class SE(nn.Module):
    """Plain SE; conv=True is the CIT extractor's variant (1x1 convs with bias)."""

    def __init__(self, channels, conv=False):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // 16, bias=conv)
        self.fc2 = nn.Linear(channels // 16, channels, bias=conv)

    def forward(self, x):
        y = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3))))))
        return x * y[:, :, None, None]


class Bottleneck(nn.Module):
    """1x1 -> grouped 3x3 -> 1x1 (x4), BN after each, SE/SECat, residual, ReLU."""

    def __init__(self, inp, width, out, groups, stride=1, secat=False, se_conv=False):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.secat = secat
        self.se = SECat(out) if secat else SE(out, se_conv)
        self.down = None
        if inp != out or stride != 1:
            self.down = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x, tag=None):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        y = self.se(y, tag) if self.secat else self.se(y)
        return F.relu(y + (x if self.down is None else self.down(x)))


class DecoderBlock(nn.Module):
    def __init__(self, inp, width, n):
        super().__init__()
        self.blocks = nn.ModuleList(
            [Bottleneck(inp if i == 0 else 4 * width, width, 4 * width, 16, secat=True) for i in range(n)]
        )
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x, tag):
        for b in self.blocks:
            x = b(x, tag)
        return self.shuffle(x)


class Generator(nn.Module):
    def __init__(self, size=256, layers=(12, 8, 5, 5), cvt=115):
        super().__init__()
        self.size = size
        chans = [1, 16, 32, 64, 128, 256]
        self.enc = nn.ModuleList()
        for i in range(5):
            self.enc.append(nn.Sequential(
                nn.Conv2d(chans[i], chans[i + 1], 3, 1 if i == 0 else 2, 1), lrelu(),
                nn.Conv2d(chans[i + 1], chans[i + 1], 3, 1, 1), lrelu()))
        s16 = size // 16
        self.linear = nn.Linear(cvt, 32 * s16 * s16)
        self.color_conv = nn.Sequential(
            nn.Conv2d(32, 64, 3, 1, 1), lrelu(), nn.Conv2d(64, 64, 3, 1, 1), lrelu(),
            nn.Conv2d(64, 64, 3, 1, 1), nn.Tanh())
        self.color_fc = nn.Sequential(nn.Linear(cvt, 64), nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 64))
        self.feature_conv = nn.Sequential(
            nn.Conv2d(512, 256, 3, 2, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
            nn.Conv2d(256, 256, 3, 1, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
            nn.Conv2d(256, 256, 3, 1, 1, bias=False), nn.ReLU())
        self.deconv1 = DecoderBlock(576, 256, layers[0])
        self.deconv2 = DecoderBlock(256 + 128, 128, layers[1])
        self.deconv3 = DecoderBlock(128 + 64, 64, layers[2])
        self.deconv4 = DecoderBlock(64 + 32, 32, layers[3])
        self.deconv5 = nn.Sequential(nn.Conv2d(48, 32, 3, 1, 1), lrelu(), nn.Conv2d(32, 3, 3, 1, 1), nn.Tanh())
        self.guide = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 3, 2, 1, 1), lrelu(),
            nn.ConvTranspose2d(128, 64, 3, 2, 1, 1), lrelu(),
            nn.ConvTranspose2d(64, 32, 3, 2, 1, 1), lrelu(),
            nn.ConvTranspose2d(32, 3, 3, 1, 1), nn.Tanh())

    def forward(self, line, cit_feat, cvt):
        skips = []
        x = line
        for e in self.enc:
            x = e(x)
            skips.append(x)
        s16 = self.size // 16
        tag_spatial = self.color_conv(self.linear(cvt).view(-1, 32, s16, s16))
        tag = self.color_fc(cvt)
        x = torch.cat([skips[4], self.feature_conv(cit_feat), tag_spatial], 1)
        x = self.deconv1(x, tag)
        d1 = x
        x = self.deconv2(torch.cat([x, skips[3]], 1), tag)
        x = self.deconv3(torch.cat([x, skips[2]], 1), tag)
        x = self.deconv4(torch.cat([x, skips[1]], 1), tag)
        out = self.deconv5(torch.cat([x, skips[0]], 1))
        return out, self.guide(d1)


class CITExtractor(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        blocks = []
        inp = 64
        for planes, n, stride in [(64, 3, 1), (128, 4, 2)]:
            for i in range(n):
                blocks.append(Bottleneck(inp, 2 * planes, 4 * planes, 32, stride if i == 0 else 1, se_conv=True))
                inp = 4 * planes
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(self.stem(x))


class Discriminator(nn.Module):
    def __init__(self, cit=370, cvt=115):
        super().__init__()
        layers = [nn.Conv2d(3, 32, 3, 1, 1), lrelu(), nn.Conv2d(32, 32, 3, 2, 0), lrelu()]
        chans = [32, 64, 128, 256, 512]
        for i in range(4):
            a, b = chans[i], chans[i + 1]
            layers += [Bottleneck(a, b // 4, b, 16), Bottleneck(b, b // 4, b, 16), nn.Conv2d(b, b, 3, 2, 1), lrelu()]
        layers += [Bottleneck(512, 128, 512, 16) for _ in range(3)]
        self.body = nn.Sequential(*layers)
        self.adv = nn.Linear(512, 1)
        self.cit = nn.Linear(512, cit)
        self.cvt = nn.Linear(512, cvt)

    def forward(self, x):
        f = self.body(x).mean((2, 3))
        return torch.sigmoid(self.adv(f)), torch.sigmoid(self.cit(f)), torch.sigmoid(self.cvt(f))


def main(a):
    if a.device == 'cuda' and not torch.cuda.is_available():
        sys.exit(f'torch_tag2pix.py: --device cuda, but torch.cuda.is_available() is false (torch {torch.__version__}).')
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = torch.device(a.device)
    size, layers = MODELS[a.model]
    batch = a.batch
    G, D, C = Generator(size, layers).to(device), Discriminator().to(device), CITExtractor().to(device)
    line = torch.rand(batch, 1, size, size, device=device)
    colour = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    cvt = (torch.rand(batch, 115, device=device) < 0.05).float()
    cit = (torch.rand(batch, 370, device=device) < 0.05).float()
    bce, l1 = nn.BCELoss(), nn.L1Loss()
    sync = torch.cuda.synchronize if a.device == 'cuda' else (lambda: None)

    if a.task == 'colourise':
        G.eval()

        def step():
            with torch.no_grad():
                G(line, C(line), cvt)
    else:
        opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
        ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)

        def step():
            with torch.no_grad():
                feat = C(line)
            opt_d.zero_grad()
            adv_r, cit_r, cvt_r = D(colour)
            fake, _ = G(line, feat, cvt)
            adv_f, cit_f, cvt_f = D(fake)
            loss_d = bce(adv_r, ones) + bce(adv_f, zeros) + bce(cvt_r, cvt) + bce(cit_r, cit) + bce(cvt_f, cvt) + bce(cit_f, cit)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            fake, guide = G(line, feat, cvt)
            adv_f, cit_f, cvt_f = D(fake)
            loss_g = bce(adv_f, ones) + bce(cvt_f, cvt) + bce(cit_f, cit) + 1000 * (l1(fake, colour) + 0.9 * l1(guide, colour))
            loss_g.backward()
            opt_g.step()

    for _ in range(a.warmup):
        step()
    sync()
    if a.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    runs = []
    for _ in range(a.runs):
        t = time.perf_counter()
        step()
        sync()
        runs.append((time.perf_counter() - t) * 1000)
    median = sorted(runs)[len(runs) // 2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = {'G': sum(p.numel() for p in G.parameters()), 'D': sum(p.numel() for p in D.parameters()),
              'CIT': sum(p.numel() for p in C.parameters())}
    out = {'task': a.task, 'model': a.model, 'batch': batch, 'device': a.device, 'medianMs': median, 'runsMs': runs,
           'peakRssMB': peak, 'threads': torch.get_num_threads(), 'params': params}
    if a.device == 'cuda':
        out['peakGpuMB'] = torch.cuda.max_memory_allocated() / 2**20
        out['gpu'] = torch.cuda.get_device_name()
    print(json.dumps(out))


if __name__ == '__main__':
    main(ARGS)
