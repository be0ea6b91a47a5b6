"""Count FLOPs (2 x multiply-accumulates) of the image-model parts the presets in tokcost/data/models/ cite as `derived`.

Run:  python docs/_vae_flops.py

Pure arithmetic over the layer shapes of the diffusers modules (no torch needed):

* AutoencoderKL decoder (SD 1.5, SDXL, SD3, FLUX; diffusers models/autoencoders/vae.py `Decoder`):
  post_quant_conv (where the config has it), conv_in, mid block (resnet, single-head self-attention over all
  latent positions, resnet), up blocks with layers_per_block + 1 resnets each and a nearest-upsample + 3x3 conv
  after every block but the last, conv_out.  Convolutions count k*k*Cin*Cout MACs per output position.
* AutoencoderDC decoder (DC-AE f32c32, SANA; diffusers models/autoencoders/autoencoder_dc.py `Decoder`),
  with the `dc-ae-f32c32-sana-1.0` config of diffusers scripts/convert_dcae_to_diffusers.py.
* UNet2DConditionModel (SD 1.5, SDXL): one forward at a given latent size, linear/conv MACs and, separately,
  the attention score/value matmuls (Q K^T and A V, self and cross).
* Per-token matmul parameters of the DiTs (SD3/SD3.5 MMDiT, FLUX, PixArt-Sigma, SANA).

Norms, activations, softmax, element-wise ops and biases are not counted (well under 1% here).
"""

from __future__ import annotations

MEGA = 1e6


# ----------------------------------------------------------------------------------------- AutoencoderKL


def conv(k: int, cin: int, cout: int, positions: float, groups: int = 1) -> float:
    """MACs of a k x k convolution producing `positions` output positions."""
    return k * k * (cin // groups) * cout * positions


def resnet_kl(cin: int, cout: int, positions: float) -> float:
    """diffusers ResnetBlock2D: conv1 3x3 cin->cout, conv2 3x3 cout->cout, 1x1 shortcut when cin != cout."""
    m = conv(3, cin, cout, positions) + conv(3, cout, cout, positions)
    if cin != cout:
        m += conv(1, cin, cout, positions)
    return m


def kl_decoder_macs(
    width: int,
    height: int,
    latent_channels: int,
    block_out=(128, 256, 512, 512),
    layers_per_block: int = 2,
    factor: int = 8,
    post_quant_conv: bool = True,
) -> dict:
    """MACs of the AutoencoderKL decoder for one width x height output image; linear part and attention core."""
    n_latent = (width // factor) * (height // factor)
    rev = list(reversed(block_out))
    linear = 0.0
    if post_quant_conv:
        linear += conv(1, latent_channels, latent_channels, n_latent)
    linear += conv(3, latent_channels, rev[0], n_latent)  # conv_in
    c = rev[0]
    # mid block: resnet, attention (1 head, dim c; to_q/k/v/out), resnet
    linear += 2 * resnet_kl(c, c, n_latent) + 4 * c * c * n_latent
    attn_core = 2 * n_latent * n_latent * c  # Q K^T and A V over all latent positions
    positions = n_latent
    prev = c
    for i, out in enumerate(rev):
        for j in range(layers_per_block + 1):
            linear += resnet_kl(prev if j == 0 else out, out, positions)
        prev = out
        if i < len(rev) - 1:  # Upsample2D: nearest x2 then 3x3 conv at the new resolution
            positions *= 4
            linear += conv(3, out, out, positions)
    linear += conv(3, rev[-1], 3, positions)  # conv_out
    assert positions == width * height
    return {"linear": linear, "attn_core": attn_core}


def kl_decoder_params(latent_channels: int, block_out=(128, 256, 512, 512), layers_per_block: int = 2) -> float:
    """Weights of the AutoencoderKL decoder (convs and attention; norms and biases left out)."""
    rev = list(reversed(block_out))
    p = conv(3, latent_channels, rev[0], 1)
    c = rev[0]
    p += 2 * resnet_kl(c, c, 1) + 4 * c * c
    prev = c
    for i, out in enumerate(rev):
        for j in range(layers_per_block + 1):
            p += resnet_kl(prev if j == 0 else out, out, 1)
        prev = out
        if i < len(rev) - 1:
            p += conv(3, out, out, 1)
    p += conv(3, rev[-1], 3, 1)
    return p


# ----------------------------------------------------------------------------------------- AutoencoderDC

SANA_DCAE = dict(  # diffusers scripts/convert_dcae_to_diffusers.py get_ae_config("dc-ae-f32c32-sana-1.0")
    latent_channels=32,
    block_out=(128, 256, 512, 512, 1024, 1024),
    block_types=("ResBlock", "ResBlock", "ResBlock", "EViT", "EViT", "EViT"),
    decoder_layers=(3, 3, 3, 3, 3, 3),
    qkv_multiscales=((), (), (), (5,), (5,), (5,)),
    upsample="interpolate",  # nearest x2 then 3x3 conv (DCUpBlock2d interpolate=True)
    attention_head_dim=32,
)


def dc_resblock(c: int, positions: float) -> float:
    """autoencoder_dc ResBlock: conv1 3x3 c->c, conv2 3x3 c->c."""
    return 2 * conv(3, c, c, positions)


def dc_evit(c: int, positions: float, head_dim: int = 32, scales=(5,), core: bool = True) -> float:
    """EfficientViTBlock = SanaMultiscaleLinearAttention + GLUMBConv(expand 4), per the diffusers code."""
    heads = c // head_dim
    m = 3 * c * c * positions  # to_q, to_k, to_v
    for k in scales:  # SanaMultiscaleAttentionProjection: depthwise k x k on 3c, grouped 1x1 (3*heads groups)
        m += conv(k, 3 * c, 3 * c, positions, groups=3 * c)
        m += conv(1, 3 * c, 3 * c, positions, groups=3 * heads)
    branches = 1 + len(scales)
    # ReLU linear attention per head: V^T K ((d+1) x d, V padded with ones) then (V^T K) Q, linear in positions
    if core:
        m += branches * heads * 2 * positions * (head_dim + 1) * head_dim
    m += branches * c * c * positions  # to_out
    hidden = 4 * c  # GLUMBConv: 1x1 c->2h, depthwise 3x3 on 2h, 1x1 h->c
    m += conv(1, c, 2 * hidden, positions) + conv(3, 2 * hidden, 2 * hidden, positions, groups=2 * hidden)
    m += conv(1, hidden, c, positions)
    return m


def dc_decoder_macs(width: int, height: int, cfg=SANA_DCAE) -> float:
    bo, n = cfg["block_out"], len(cfg["block_out"])
    factor = 2 ** (n - 1)
    positions = (width // factor) * (height // factor)
    m = conv(3, cfg["latent_channels"], bo[-1], positions)  # conv_in
    for i in reversed(range(n)):
        if i < n - 1:  # DCUpBlock2d(bo[i+1] -> bo[i]), interpolate then 3x3 conv at the new resolution
            positions *= 4
            m += conv(3, bo[i + 1], bo[i], positions)
        for _ in range(cfg["decoder_layers"][i]):
            if cfg["block_types"][i] == "ResBlock":
                m += dc_resblock(bo[i], positions)
            else:
                m += dc_evit(bo[i], positions, cfg["attention_head_dim"], cfg["qkv_multiscales"][i])
    m += conv(3, bo[0], 3, positions)  # conv_out
    assert positions == width * height
    return m


def dc_params(cfg=SANA_DCAE, encoder_layers=(2, 2, 2, 3, 3, 3)) -> dict:
    """Weights of the DC-AE decoder and encoder (convs and linears; norms and biases left out)."""
    bo, n = cfg["block_out"], len(cfg["block_out"])

    def block(i):
        if cfg["block_types"][i] == "ResBlock":
            return dc_resblock(bo[i], 1)
        return dc_evit(bo[i], 1, cfg["attention_head_dim"], cfg["qkv_multiscales"][i], core=False)

    dec = conv(3, cfg["latent_channels"], bo[-1], 1) + conv(3, bo[0], 3, 1)
    enc = conv(3, 3, bo[0], 1) + conv(3, bo[-1], cfg["latent_channels"], 1)
    for i in range(n):
        dec += cfg["decoder_layers"][i] * block(i) + (conv(3, bo[i + 1], bo[i], 1) if i < n - 1 else 0)
        enc += encoder_layers[i] * block(i) + (conv(3, bo[i], bo[i + 1], 1) if i < n - 1 else 0)
    return {"decoder": dec, "encoder": enc}


# ----------------------------------------------------------------------------------------- UNet


SD15_UNET = dict(  # runwayml/stable-diffusion-v1-5 unet/config.json
    block_out=(320, 640, 1280, 1280),
    down_attn=(True, True, True, False),
    layers_per_block=2,
    transformer_layers=(1, 1, 1, 1),
    cross_dim=768,
    text_tokens=77,
    in_ch=4,
    add_embed_in=None,
)
SDXL_UNET = dict(  # stabilityai/stable-diffusion-xl-base-1.0 unet/config.json
    block_out=(320, 640, 1280),
    down_attn=(False, True, True),
    layers_per_block=2,
    transformer_layers=(1, 2, 10),
    cross_dim=2048,
    text_tokens=77,
    in_ch=4,
    add_embed_in=2816,
)


def transformer2d(c: int, depth: int, n: float, cross_dim: int, text: int) -> tuple[float, float, int]:
    """diffusers Transformer2DModel (proj_in, `depth` BasicTransformerBlocks, proj_out) at n positions.

    Returns (linear MACs, attention-core MACs, self-attention layers)."""
    lin = 2 * c * c * n  # proj_in, proj_out (1x1 conv or linear: same MACs)
    per_block = 4 * c * c * n  # attn1 q, k, v, out
    per_block += 2 * c * c * n + 2 * cross_dim * c * text  # attn2 q, out on image tokens; k, v on text tokens
    per_block += (c * 8 * c + 4 * c * c) * n  # GEGLU feed-forward: c -> 2 x 4c, 4c -> c
    core = depth * (2 * n * n * c + 2 * n * text * c)  # self Q K^T + A V, cross Q K^T + A V
    return lin + depth * per_block, core, depth


def unet_macs(latent_h: int, latent_w: int, cfg: dict) -> dict:
    bo, lpb, tl = cfg["block_out"], cfg["layers_per_block"], cfg["transformer_layers"]
    nb = len(bo)
    temb = bo[0] * 4
    lin = core = 0.0
    levels: dict[int, list] = {}  # downsample (latent) -> [dim, count]

    def attn(c, depth, n, down):
        nonlocal lin, core
        a, b, k = transformer2d(c, depth, n, cfg["cross_dim"], cfg["text_tokens"])
        lin += a
        core += b
        levels.setdefault(down, [c, 0])[1] += k

    # time embedding (+ SDXL text_time add_embedding), once per forward
    lin += bo[0] * temb + temb * temb
    if cfg["add_embed_in"]:
        lin += cfg["add_embed_in"] * temb + temb * temb
    n0 = latent_h * latent_w
    lin += conv(3, cfg["in_ch"], bo[0], n0)  # conv_in
    skips = [bo[0]]
    prev = bo[0]
    for i, c in enumerate(bo):
        n = n0 / 4**i
        for _ in range(lpb):
            lin += resnet_kl(prev, c, n) + temb * c
            prev = c
            if cfg["down_attn"][i]:
                attn(c, tl[i], n, 2**i)
            skips.append(c)
        if i < nb - 1:
            lin += conv(3, c, c, n / 4)  # Downsample2D, stride 2
            skips.append(c)
    # mid block: resnet, transformer, resnet
    n = n0 / 4 ** (nb - 1)
    c = bo[-1]
    lin += 2 * (resnet_kl(c, c, n) + temb * c)
    attn(c, tl[-1], n, 2 ** (nb - 1))
    # up blocks
    rev, rev_tl, rev_attn = list(reversed(bo)), list(reversed(tl)), list(reversed(cfg["down_attn"]))
    prev = rev[0]
    for i, c in enumerate(rev):
        n = n0 / 4 ** (nb - 1 - i)
        for j in range(lpb + 1):
            skip = skips.pop()
            lin += resnet_kl((prev if j == 0 else c) + skip, c, n) + temb * c
            if rev_attn[i]:
                attn(c, rev_tl[i], n, 2 ** (nb - 1 - i))
        prev = c
        if i < nb - 1:
            lin += conv(3, c, c, n * 4)  # Upsample2D: nearest x2 then 3x3 conv
    lin += conv(3, bo[0], cfg["in_ch"], n0)  # conv_out
    assert not skips
    return {"linear": lin, "attn_core": core, "levels": levels}


# ----------------------------------------------------------------------------------------- DiT per-token


def mmdit_sd3(d: int, layers: int) -> float:
    """SD3 JointTransformerBlock, per token of either stream: q, k, v, out (4 d^2) + GELU MLP x4 (8 d^2)."""
    return 12 * d * d * layers


def flux(d: int = 3072, double: int = 19, single: int = 38) -> float:
    """FLUX: double blocks 12 d^2 per stream; single blocks qkv 3d^2 + mlp_in 4d^2 + proj_out 5d^2."""
    return 12 * d * d * (double + single)


def pixart(d: int = 1152, layers: int = 28) -> float:
    """PixArt BasicTransformerBlock per image token: self q,k,v,o 4d^2; cross q,o 2d^2; GELU MLP x4 8d^2."""
    return 14 * d * d * layers


def sana(d: int, layers: int, cross: int, mlp_ratio: float = 2.5) -> float:
    """SanaTransformerBlock per image token: linear self-attn q,k,v,o 4d^2; cross q (d x cross), out (cross x d);
    GLUMBConv: 1x1 d->2h, depthwise 3x3 on 2h (18h), 1x1 h->d, with h = int(mlp_ratio d)."""
    h = int(mlp_ratio * d)
    return (4 * d * d + 2 * d * cross + 3 * d * h + 18 * h) * layers


def main() -> None:
    print("== AutoencoderKL decoder (block_out_channels [128,256,512,512], layers_per_block 2) ==")
    for name, lc, pqc, (w, h) in [
        ("SD1.5 (4 ch, 512^2)", 4, True, (512, 512)),
        ("SD1.5 (4 ch, 1024^2)", 4, True, (1024, 1024)),
        ("SDXL (4 ch, 1024^2)", 4, True, (1024, 1024)),
        ("SD3 / FLUX (16 ch, no post_quant_conv, 1024^2)", 16, False, (1024, 1024)),
    ]:
        r = kl_decoder_macs(w, h, lc, post_quant_conv=pqc)
        mp = w * h / MEGA
        lin_t = 2 * r["linear"] / 1e12
        core_t = 2 * r["attn_core"] / 1e12
        print(
            f"{name}: linear {lin_t:.3f} TFLOP ({lin_t / mp:.2f} TFLOP/MP), mid-attention core {core_t:.3f} TFLOP, "
            f"total {lin_t + core_t:.3f} TFLOP = {(lin_t + core_t) / mp:.2f} TFLOP/MP"
        )
    print(f"decoder weights (4 ch): {kl_decoder_params(4) / 1e6:.1f} M; (16 ch): {kl_decoder_params(16) / 1e6:.1f} M")

    print("\n== AutoencoderDC decoder, dc-ae-f32c32-sana-1.0 ==")
    for w in (512, 1024, 2048):
        t = 2 * dc_decoder_macs(w, w) / 1e12
        print(f"{w}^2: {t:.3f} TFLOP = {t / (w * w / MEGA):.2f} TFLOP/MP")
    pr = dc_params()
    print(
        f"weights: decoder {pr['decoder'] / 1e6:.0f} M, encoder {pr['encoder'] / 1e6:.0f} M, "
        f"total {(pr['decoder'] + pr['encoder']) / 1e6:.0f} M"
    )

    print("\n== UNet forward (2 x MACs) ==")
    for name, cfg, lat in [("SD1.5 @512^2", SD15_UNET, 64), ("SDXL @1024^2", SDXL_UNET, 128)]:
        r = unet_macs(lat, lat, cfg)
        print(
            f"{name}: linear/conv {2 * r['linear'] / 1e12:.3f} TFLOP, attention core {2 * r['attn_core'] / 1e12:.3f} TFLOP"
        )
        for down, (dim, count) in sorted(r["levels"].items()):
            print(f"   self-attention at pixel/{8 * down}: dim {dim}, {count} transformer blocks")

    print("\n== DiT per-token matmul parameters (linear_params_b) ==")
    print(f"SD3-medium (24 x 1536): {mmdit_sd3(1536, 24) / 1e9:.3f} B")
    print(f"SD3.5-large (38 x 2432): {mmdit_sd3(2432, 38) / 1e9:.3f} B")
    print(f"FLUX.1 (19+38, 3072): {flux() / 1e9:.3f} B")
    print(f"PixArt-Sigma (28 x 1152): {pixart() / 1e9:.3f} B")
    print(f"SANA-0.6B (28 x 1152): {sana(1152, 28, 1152) / 1e9:.3f} B")
    print(f"SANA-1.6B (20 x 2240): {sana(2240, 20, 2240) / 1e9:.3f} B")


if __name__ == "__main__":
    main()
