"""The bundled multilingual-e5-small as a PyTorch module, for training the reader only.

Built from the engine file (`retrieval.e5_file`): Q4_0 matrices dequantized to float32, the same
post-LayerNorm BERT layers, mean pooling over all tokens (<s> and </s> included) and L2
normalization as `e5.c`. Position ids start at 0, as the engine feeds them (the file's position
table is already shifted). The reader is this encoder over "query: QUESTION passage: SENTENCE"
with a linear head on the pooled vector, so the trained layers run in the unchanged engine.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from retrieval.e5_file import E5File

LAYER_TENSORS = ("q", "k", "v", "ao", "aln", "fi", "fo", "oln")
MATRICES = ("q", "k", "v", "ao", "fi", "fo")
QK = 32  # weights per Q4_0 block


def fake_q4(w: torch.Tensor) -> torch.Tensor:
    """`w` rounded to Q4_0 as `retrieval.e5_file.quantize` does (blocks of 32 along the rows, the
    signed largest-magnitude weight mapped to -8, the scale stored as float16), with a
    straight-through gradient: training sees the weights the engine will run."""
    x = w.reshape(-1, QK)
    idx = x.detach().abs().argmax(1, keepdim=True)
    d = x.detach().gather(1, idx) / -8.0
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    q = torch.clamp(torch.floor(x.detach() * inv + 8.5), 0, 15)
    rounded = ((q - 8.0) * d.to(torch.float16).to(torch.float32)).reshape(w.shape)
    return w + (rounded - w).detach()


class QLinear(nn.Linear):
    """A linear layer that can run its weight through `fake_q4` (quantization-aware training)."""

    fake_quant = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = fake_q4(self.weight) if self.fake_quant else self.weight
        return nn.functional.linear(x, weight, self.bias)


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ff: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.ao = (QLinear(hidden, hidden) for _ in range(4))
        self.aln = nn.LayerNorm(hidden, eps=eps)
        self.fi = QLinear(hidden, ff)
        self.fo = QLinear(ff, hidden)
        self.oln = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        hd = h // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, hd).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.aln(x + self.ao(ctx))
        return self.oln(x + self.fo(nn.functional.gelu(self.fi(x))))


class E5Encoder(nn.Module):
    """e5-small: frozen embeddings and lower layers, the layers from `train_from` on trainable."""

    def __init__(
        self, f: E5File, train_from: int, *, matrices: bool = True, quant_aware: bool = False
    ) -> None:
        """`matrices`: train the trained layers' weight matrices too; False trains only their
        biases and LayerNorms, which the engine file holds as float32, so what is learned
        ships exactly (fine-tuning moves a matrix by far less than a Q4_0 step).
        `quant_aware`: the trained matrices run rounded to Q4_0 (straight-through), so what is
        learned survives the export to the engine's format."""
        super().__init__()
        hp = f.header
        self.hidden = hp.hidden
        self.train_from = train_from
        word = f.tensor("emb.word", hp.vocab)
        self.register_buffer("word", torch.from_numpy(word), persistent=False)
        pos = f.tensor("emb.pos").reshape(hp.max_positions, hp.hidden)
        self.register_buffer("pos", torch.from_numpy(pos), persistent=False)
        type0 = f.tensor("emb.type").reshape(hp.type_vocab, hp.hidden)[0]
        self.register_buffer("type0", torch.from_numpy(type0.copy()), persistent=False)
        self.eln = nn.LayerNorm(hp.hidden, eps=hp.eps)
        self.layers = nn.ModuleList(
            Layer(hp.hidden, hp.heads, hp.ff, hp.eps) for _ in range(hp.layers)
        )
        with torch.no_grad():
            self.eln.weight.copy_(torch.from_numpy(f.tensor("emb.ln.w")))
            self.eln.bias.copy_(torch.from_numpy(f.tensor("emb.ln.b")))
            for i, layer in enumerate(self.layers):
                for name in LAYER_TENSORS:
                    module = getattr(layer, name)
                    weight_name = f"l{i}.{name}.w"
                    rows = module.weight.shape[0]
                    w = (
                        f.tensor(weight_name, rows)
                        if f.is_q4(weight_name)
                        else f.tensor(weight_name)
                    )
                    module.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                    module.bias.copy_(torch.from_numpy(f.tensor(f"l{i}.{name}.b")))
        for p in self.eln.parameters():
            p.requires_grad_(False)
        for layer in self.layers[:train_from]:
            for p in layer.parameters():
                p.requires_grad_(False)
        for layer in self.layers[train_from:]:
            for name in MATRICES:
                getattr(layer, name).weight.requires_grad_(matrices)
                getattr(layer, name).fake_quant = matrices and quant_aware

    def lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the frozen layers (no gradient)."""
        with torch.no_grad():
            t = ids.shape[1]
            x = self.word[ids] + self.pos[:t] + self.type0
            x = self.eln(x)
            bias = self._bias(mask)
            for layer in self.layers[: self.train_from]:
                x = layer(x, bias)
        return x

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """L2-normalized mean-pooled vectors, as the engine returns them."""
        x = self.lower(ids, mask)
        bias = self._bias(mask)
        for layer in self.layers[self.train_from :]:
            x = layer(x, bias)
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1)
        return nn.functional.normalize(pooled, dim=-1)

    @staticmethod
    def _bias(mask: torch.Tensor) -> torch.Tensor:
        return ((1.0 - mask.to(torch.float32)) * -1e9)[:, None, None, :]

    def trained_tensors(self) -> dict[str, np.ndarray]:
        """The trained tensors under the engine file's names."""
        out: dict[str, np.ndarray] = {}
        for i in range(self.train_from, len(self.layers)):
            layer = self.layers[i]
            for name in LAYER_TENSORS:
                module = getattr(layer, name)
                for suffix, p in (("w", module.weight), ("b", module.bias)):
                    if p.requires_grad:
                        out[f"l{i}.{name}.{suffix}"] = p.detach().numpy().astype(np.float32)
        return out


class Reader(nn.Module):
    """Cross-encoder: the encoder's pooled vector of the (question, sentence) text -> a logit."""

    def __init__(
        self, f: E5File, train_from: int, *, matrices: bool = True, quant_aware: bool = False
    ) -> None:
        super().__init__()
        self.encoder = E5Encoder(f, train_from, matrices=matrices, quant_aware=quant_aware)
        self.head = nn.Linear(f.header.hidden, 1)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(ids, mask)).squeeze(-1)


def batch_ids(
    token_lists: list[list[int]], bos: int, eos: int, pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """<s> ids </s>, right-padded, and the mask of real tokens."""
    width = max(len(t) for t in token_lists) + 2
    ids = torch.full((len(token_lists), width), pad, dtype=torch.long)
    mask = torch.zeros((len(token_lists), width), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        seq = [bos, *tokens, eos]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return ids, mask
