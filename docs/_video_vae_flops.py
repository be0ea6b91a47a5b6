"""Decoder FLOPs of the 3D video VAEs per output megapixel per frame (and VAE parameter counts).

Helper for the presets in tokcost/data/models/ (cogvideox-2b/5b, hunyuanvideo, wan21-1.3b/14b, ltx-video); not
part of the package. Run:  python docs/_video_vae_flops.py

Counting rules
- A convolution with kernel kt x kh x kw, Cin -> Cout, evaluated at T x H x W output positions costs
  2 * kt*kh*kw * Cin * Cout * T*H*W FLOPs (multiply + add). Biases, norms, activations, interpolation and
  pixel-shuffle are ignored (elementwise, < 1%).
- 2D convs applied per frame (CogVideoX / Wan upsamplers) have kt = 1.
- Attention in a VAE mid-block: q,k,v,o projections 4 C^2 per position (2 FLOPs per MAC) plus the core
  4 * N * C per position (QK^T and AV), N = positions attended.
- Shapes follow the decoder code (layer order, channel widths, where time is upsampled):
  * CogVideoX: diffusers autoencoder_kl_cogvideox.py (CogVideoXDecoder3D, block_out_channels (128,256,256,512),
    layers_per_block 3 -> 4 resnets per up block, SpatialNorm3D = two 1x1x1 convs from the 16 latent channels,
    upsamplers = per-frame Conv2d 3x3; time doubled (first frame kept) in the first two up blocks),
    THUDM/CogVideo sat/configs/cogvideox_{2b,5b}.yaml (ch 128, ch_mult [1,2,2,4], num_res_blocks 3, z 16).
  * HunyuanVideo: diffusers autoencoder_kl_hunyuan_video.py (HunyuanVideoDecoder3D, block_out_channels
    (128,256,512,512), layers_per_block 2 -> 3 resnets per up block, causal 3x3x3 upsample convs, spatial
    upsample in up blocks 0-2, time upsample in up blocks 1-2, single-head attention in the mid block).
  * Wan2.1: Wan-Video/Wan2.1 wan/modules/vae.py (Decoder3d dim 96, dim_mult [1,2,4,4], num_res_blocks 2 -> 3 per
    stage, temperal_upsample [True, True, False], 'upsample3d' = causal (3,1,1) time conv C -> 2C then per-frame
    Conv2d 3x3 C -> C/2, per-frame single-head attention in the middle block).
  * Wan2.2 (TI2V-5B's high-compression VAE): Wan-Video/Wan2.2 wan/modules/vae2_2.py (WanVAE_ dec_dim 256, z_dim 48,
    dim_mult [1,2,4,4], num_res_blocks 2 -> 3 per stage, temperal_upsample [True, True, False]; 'upsample3d' =
    causal (3,1,1) time conv C -> 2C then per-frame Conv2d 3x3 C -> C (not C/2 as in Wan2.1); the head writes
    12 = 3 x 2 x 2 channels that unpatchify (patch 2) to full resolution, so the decoder runs at H/16 .. H/2;
    DupUp3D shortcuts are repeats and reshapes (no FLOPs); per-frame single-head attention in the middle block).
  * Qwen-Image's VAE is Wan2.1's (diffusers autoencoder_kl_qwenimage.py AutoencoderKLQwenImage: base_dim 96,
    z_dim 16, dim_mult [1,2,4,4], num_res_blocks 2, temperal_downsample [False, True, True]) decoding one frame:
    the causal 3x3x3 convolutions run over the frame and its two zero-padded predecessors, so all 27 taps count.
  * LTX-Video 0.9 (2B, first release): diffusers autoencoder_kl_ltx.py LTXVideoDecoder3d defaults
    (block_out_channels (128,256,512,512), layers_per_block (4,3,3,3,4), spatio_temporal_scaling
    (True,True,True,False), patch_size 4, 128 latent channels; upsampler = 3x3x3 conv C -> 8C then
    depth-to-space (2,2,2), first frame dropped). ASSUMPTION: the 0.9.1+ VAE decoder (wider, timestep-
    conditioned) is heavier; it is not counted here.
- Frame counts through the decoder follow the causal rule of each model (e.g. CogVideoX 13 -> 25 -> 49).
"""

from __future__ import annotations


class Counter:
    def __init__(self, count_flops: bool = True):
        self.flops = 0.0
        self.params = 0
        self.count_flops = count_flops

    def conv(self, k: tuple[int, int, int], cin: int, cout: int, t: int, h: int, w: int) -> None:
        kt, kh, kw = k
        self.params += kt * kh * kw * cin * cout
        if self.count_flops:
            self.flops += 2.0 * kt * kh * kw * cin * cout * t * h * w

    def resnet(self, cin: int, cout: int, t: int = 1, h: int = 1, w: int = 1) -> None:
        """A residual block of two causal 3x3x3 convolutions, with a 1x1x1 shortcut when the width changes."""
        self.conv(K3, cin, cout, t, h, w)
        self.conv(K3, cout, cout, t, h, w)
        if cin != cout:
            self.conv(K1, cin, cout, t, h, w)

    def attention(self, c: int, positions: int, n_attended: int) -> None:
        self.params += 4 * c * c
        if self.count_flops:
            self.flops += positions * (2.0 * 4 * c * c + 4.0 * n_attended * c)


K3, K1, K2D = (3, 3, 3), (1, 1, 1), (1, 3, 3)


# ------------------------------------------------------------------------------------------------ CogVideoX


def cogvideox_decoder(c: Counter, F: int, H: int, W: int, z: int = 16) -> None:
    tl, h, w = 1 + (F - 1) // 4, H // 8, W // 8
    t1 = 1 + 2 * (tl - 1)

    def res(cin, cout, T, hh, ww):
        c.conv(K1, z, cin, T, hh, ww)
        c.conv(K1, z, cin, T, hh, ww)  # spatial norm1 (conv_y, conv_b)
        c.conv(K3, cin, cout, T, hh, ww)
        c.conv(K1, z, cout, T, hh, ww)
        c.conv(K1, z, cout, T, hh, ww)  # spatial norm2
        c.conv(K3, cout, cout, T, hh, ww)
        if cin != cout:
            c.conv(K1, cin, cout, T, hh, ww)

    c.conv(K3, z, 512, tl, h, w)
    for _ in range(2):
        res(512, 512, tl, h, w)  # mid block
    for _ in range(4):
        res(512, 512, tl, h, w)  # up block 0
    c.conv(K2D, 512, 512, t1, 2 * h, 2 * w)  # upsample (space + time)
    res(512, 256, t1, 2 * h, 2 * w)
    for _ in range(3):
        res(256, 256, t1, 2 * h, 2 * w)  # up block 1
    c.conv(K2D, 256, 256, F, 4 * h, 4 * w)  # upsample (space + time)
    for _ in range(4):
        res(256, 256, F, 4 * h, 4 * w)  # up block 2
    c.conv(K2D, 256, 256, F, H, W)  # upsample (space)
    res(256, 128, F, H, W)
    for _ in range(3):
        res(128, 128, F, H, W)  # up block 3
    c.conv(K1, z, 128, F, H, W)
    c.conv(K1, z, 128, F, H, W)  # norm_out (spatial norm)
    c.conv(K3, 128, 3, F, H, W)


def cogvideox_encoder_params() -> int:
    c = Counter(count_flops=False)

    res = c.resnet

    c.conv(K3, 3, 128, 1, 1, 1)
    chans = [128, 256, 256, 512]
    prev = 128
    for i, ch in enumerate(chans):
        for j in range(3):
            res(prev if j == 0 else ch, ch)
        prev = ch
        if i < 3:
            c.conv(K2D, ch, ch, 1, 1, 1)  # Conv2d stride-2 downsample
    res(512, 512)
    res(512, 512)
    c.conv(K3, 512, 32, 1, 1, 1)
    return c.params


# ------------------------------------------------------------------------------------------------ HunyuanVideo

# Official HunyuanVideo inference runs the VAE tiled (--vae-tiling defaults to True): latent tiles of 32 x 32
# positions (256 px, 25% overlap) and 16 (+1) latent frames. The mid-block attention then attends within a tile.
HUNYUAN_TILE_POSITIONS = 17 * 32 * 32


def hunyuan_decoder(c: Counter, F: int, H: int, W: int, z: int = 16, attn_n: int | None = None) -> None:
    tl, h, w = 1 + (F - 1) // 4, H // 8, W // 8
    t1 = 1 + 2 * (tl - 1)
    n = attn_n if attn_n is not None else tl * h * w

    res = c.resnet

    c.conv(K3, z, 512, tl, h, w)
    res(512, 512, tl, h, w)
    c.attention(512, tl * h * w, min(n, tl * h * w))
    res(512, 512, tl, h, w)
    for _ in range(3):
        res(512, 512, tl, h, w)  # up block 0
    c.conv(K3, 512, 512, tl, 2 * h, 2 * w)  # upsample (1,2,2)
    for _ in range(3):
        res(512, 512, tl, 2 * h, 2 * w)  # up block 1
    c.conv(K3, 512, 512, t1, 4 * h, 4 * w)  # upsample (2,2,2)
    res(512, 256, t1, 4 * h, 4 * w)
    for _ in range(2):
        res(256, 256, t1, 4 * h, 4 * w)  # up block 2
    c.conv(K3, 256, 256, F, H, W)  # upsample (2,2,2)
    res(256, 128, F, H, W)
    for _ in range(2):
        res(128, 128, F, H, W)  # up block 3
    c.conv(K3, 128, 3, F, H, W)


def hunyuan_encoder_params() -> int:
    c = Counter(count_flops=False)

    res = c.resnet

    c.conv(K3, 3, 128, 1, 1, 1)
    prev = 128
    for i, ch in enumerate([128, 256, 512, 512]):
        res(prev, ch)
        res(ch, ch)
        prev = ch
        if i < 3:
            c.conv(K3, ch, ch, 1, 1, 1)  # strided causal conv downsample
    res(512, 512)
    c.attention(512, 0, 0)
    res(512, 512)
    c.conv(K3, 512, 32, 1, 1, 1)
    c.conv(K1, 32, 32, 1, 1, 1)  # quant_conv
    return c.params


# ------------------------------------------------------------------------------------------------ Wan2.1


def wan_decoder(c: Counter, F: int, H: int, W: int, z: int = 16) -> None:
    tl, h, w = 1 + (F - 1) // 4, H // 8, W // 8
    t1 = 1 + 2 * (tl - 1)

    res = c.resnet

    c.conv(K1, z, z, tl, h, w)  # conv2 (post-quant 1x1)
    c.conv(K3, z, 384, tl, h, w)
    res(384, 384, tl, h, w)
    c.attention(384, tl * h * w, h * w)  # per-frame 2D attention
    res(384, 384, tl, h, w)
    for _ in range(3):
        res(384, 384, tl, h, w)  # stage 0
    c.conv((3, 1, 1), 384, 768, tl - 1, h, w)  # upsample3d time conv (first chunk skipped)
    c.conv(K2D, 384, 192, t1, 2 * h, 2 * w)
    res(192, 384, t1, 2 * h, 2 * w)
    for _ in range(2):
        res(384, 384, t1, 2 * h, 2 * w)  # stage 1
    c.conv((3, 1, 1), 384, 768, t1 - 1, 2 * h, 2 * w)
    c.conv(K2D, 384, 192, F, 4 * h, 4 * w)
    for _ in range(3):
        res(192, 192, F, 4 * h, 4 * w)  # stage 2
    c.conv(K2D, 192, 96, F, H, W)  # upsample2d
    for _ in range(3):
        res(96, 96, F, H, W)  # stage 3
    c.conv(K3, 96, 3, F, H, W)


def wan_encoder_params(dim: int = 96, in_channels: int = 3, z: int = 16) -> int:
    """Weights of Wan's Encoder3d (wan/modules/vae.py; Wan2.2's vae2_2.py is the same stack at dim 160 over a
    patchified 3 x 2 x 2-channel input and 48 latent channels): mean and log-variance out, 2 z channels."""
    c = Counter(count_flops=False)

    res = c.resnet

    c.conv(K3, in_channels, dim, 1, 1, 1)
    dims = [dim, dim, 2 * dim, 4 * dim, 4 * dim]
    temporal = [False, True, True]
    for i in range(4):
        cin, cout = dims[i], dims[i + 1]
        res(cin, cout)
        res(cout, cout)
        if i < 3:
            c.conv(K2D, cout, cout, 1, 1, 1)
            if temporal[i]:
                c.conv((3, 1, 1), cout, cout, 1, 1, 1)
    res(4 * dim, 4 * dim)
    c.attention(4 * dim, 0, 0)
    res(4 * dim, 4 * dim)
    c.conv(K3, 4 * dim, 2 * z, 1, 1, 1)
    c.conv(K1, 2 * z, 2 * z, 1, 1, 1)  # conv1 (quant 1x1)
    return c.params


# ------------------------------------------------------------------------------------------------ Wan2.2 (TI2V-5B)


def wan22_decoder(c: Counter, F: int, H: int, W: int, z: int = 48) -> None:
    tl, h, w = 1 + (F - 1) // 4, H // 16, W // 16
    t1 = 1 + 2 * (tl - 1)

    res = c.resnet

    c.conv(K1, z, z, tl, h, w)  # conv2 (post-quant 1x1)
    c.conv(K3, z, 1024, tl, h, w)
    res(1024, 1024, tl, h, w)
    c.attention(1024, tl * h * w, h * w)  # per-frame 2D attention
    res(1024, 1024, tl, h, w)
    for _ in range(3):
        res(1024, 1024, tl, h, w)  # stage 0
    c.conv((3, 1, 1), 1024, 2048, tl - 1, h, w)  # upsample3d time conv (first chunk skipped)
    c.conv(K2D, 1024, 1024, t1, 2 * h, 2 * w)
    for _ in range(3):
        res(1024, 1024, t1, 2 * h, 2 * w)  # stage 1
    c.conv((3, 1, 1), 1024, 2048, t1 - 1, 2 * h, 2 * w)
    c.conv(K2D, 1024, 1024, F, 4 * h, 4 * w)
    res(1024, 512, F, 4 * h, 4 * w)  # stage 2
    for _ in range(2):
        res(512, 512, F, 4 * h, 4 * w)
    c.conv(K2D, 512, 512, F, 8 * h, 8 * w)  # upsample2d
    res(512, 256, F, 8 * h, 8 * w)  # stage 3
    for _ in range(2):
        res(256, 256, F, 8 * h, 8 * w)
    c.conv(K3, 256, 12, F, 8 * h, 8 * w)  # head: 3 x 2 x 2 channels, unpatchified to H x W


def wan22_encoder_params() -> int:
    return wan_encoder_params(dim=160, in_channels=12, z=48)


# ------------------------------------------------------------------------------------------------ LTX-Video 0.9


def ltx_decoder(c: Counter, F: int, H: int, W: int, z: int = 128) -> None:
    tl, h, w = 1 + (F - 1) // 8, H // 32, W // 32
    t1 = 2 * tl - 1
    t2 = 2 * t1 - 1
    assert 2 * t2 - 1 == F

    res = c.resnet

    c.conv(K3, z, 512, tl, h, w)
    for _ in range(4):
        res(512, 512, tl, h, w)  # mid block
    for _ in range(3):
        res(512, 512, tl, h, w)  # up block 0 (no upsampler)
    c.conv(K3, 512, 512 * 8, tl, h, w)  # up block 1 upsampler, then depth-to-space
    for _ in range(3):
        res(512, 512, t1, 2 * h, 2 * w)
    res(512, 256, t1, 2 * h, 2 * w)  # up block 2 conv_in
    c.conv(K3, 256, 256 * 8, t1, 2 * h, 2 * w)
    for _ in range(3):
        res(256, 256, t2, 4 * h, 4 * w)
    res(256, 128, t2, 4 * h, 4 * w)  # up block 3 conv_in
    c.conv(K3, 128, 128 * 8, t2, 4 * h, 4 * w)
    for _ in range(4):
        res(128, 128, F, 8 * h, 8 * w)
    c.conv(K3, 128, 3 * 16, F, 8 * h, 8 * w)  # conv_out to 4x4 patches


def ltx_encoder_params() -> int:
    c = Counter(count_flops=False)

    res = c.resnet

    c.conv(K3, 48, 128, 1, 1, 1)
    chans = [128, 256, 512, 512]
    layers = [4, 3, 3, 3]
    scaling = [True, True, True, False]
    for i in range(4):
        cin = chans[i]
        cout = chans[i + 1] if i + 1 < 4 else chans[i]
        for _ in range(layers[i]):
            res(cin, cin)
        if scaling[i]:
            c.conv(K3, cin, cin, 1, 1, 1)
        if cin != cout:
            res(cin, cout)
    for _ in range(4):
        res(512, 512)
    c.conv(K3, 512, 129, 1, 1, 1)
    return c.params


# ------------------------------------------------------------------------------------------------ report


def per_mpixel_frame(fn, F, H, W, **kw) -> tuple[float, int]:
    c = Counter()
    fn(c, F, H, W, **kw)
    return c.flops / (F * H * W / 1e6) / 1e12, c.params


CASES = [
    # name, decoder, encoder params, native (F, H, W), other clips to show the scaling
    ("cogvideox (2b and 5b share the VAE)", cogvideox_decoder, cogvideox_encoder_params, (49, 480, 720), [], {}),
    (
        "hunyuanvideo (tiled mid-attention)",
        hunyuan_decoder,
        hunyuan_encoder_params,
        (129, 720, 1280),
        [(129, 544, 960)],
        {"attn_n": HUNYUAN_TILE_POSITIONS},
    ),
    ("wan2.1 (1.3B and 14B share the VAE)", wan_decoder, wan_encoder_params, (81, 720, 1280), [(81, 480, 832)], {}),
    ("wan2.2 (TI2V-5B)", wan22_decoder, wan22_encoder_params, (121, 704, 1280), [(121, 1280, 704)], {}),
    ("qwen-image (Wan2.1's VAE, one frame)", wan_decoder, wan_encoder_params, (1, 1328, 1328), [(1, 1024, 1024)], {}),
    ("ltx-video 0.9", ltx_decoder, ltx_encoder_params, (121, 512, 768), [(121, 480, 704)], {}),
]


def main() -> None:
    for name, dec, enc, native, others, kw in CASES:
        tf, dec_params = per_mpixel_frame(dec, *native, **kw)
        enc_params = enc()
        F, H, W = native
        total = tf * F * H * W / 1e6
        print(
            f"{name}: {tf:.2f} TFLOP per output megapixel-frame at {W}x{H}x{F} "
            f"(clip {total:.0f} TFLOP); decoder {dec_params / 1e6:.1f}M + encoder {enc_params / 1e6:.1f}M "
            f"= {(dec_params + enc_params) / 1e6:.1f}M conv/attention weights"
        )
        for F2, H2, W2 in others:
            tf2, _ = per_mpixel_frame(dec, F2, H2, W2, **kw)
            print(f"    at {W2}x{H2}x{F2}: {tf2:.2f} TFLOP per megapixel-frame")
    # HunyuanVideo without tiling: the mid-block attention spans the whole latent video
    tf_full, _ = per_mpixel_frame(hunyuan_decoder, 129, 720, 1280)
    print(f"hunyuanvideo untiled (attention over all 33x90x160 latents): {tf_full:.2f} TFLOP per megapixel-frame")


if __name__ == "__main__":
    main()
