"""The ablation's student: a tiny Qwen2-VL that can read images, its training loop and likelihood scoring.

The architecture is the quickstart's tiny Qwen2-VL text side (hidden 64, 2 layers, the world's tokenizer) with a
wider vision tower (embed 64, depth 2, no 2 x 2 merge: 64 image tokens for a 112 x 112 image), the setting that
learned fastest per second on two cores (``/work/shared/miniature-feasibility.md``: the tower's size is not the
limit, optimizer steps are). It is the ablation's own config: the tiny models in the tiny cache are unchanged.

Training is one plain loop for every model of the run (general student and every post-training condition):
AdamW, linear warmup then linear decay, gradient clipping, the loss on the assistant turns only; with ``heldout``
rows, the loss on them is measured after every epoch and the best epoch's weights are kept (early stopping).
Scoring is by likelihood, as lm-eval-harness scores multiple choice: the candidate whose tokens (and the end of
turn) have the highest summed log-probability is the model's answer.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

IMAGE_SIZE = 112
GRAY = (128, 128, 128)


def build_student(out_dir: str | Path, corpus: list[str], seed: int = 1) -> Path:
    """Save the ablation's tiny student (random weights, tokenizer trained on ``corpus``) to ``out_dir``."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    from hub_tools.miniature.synthesizer import build_tiny_synthesizer

    out_dir = Path(out_dir)
    build_tiny_synthesizer(out_dir, corpus, seed=seed, hidden_size=64, num_layers=2, num_heads=4)
    config = AutoConfig.from_pretrained(str(out_dir))
    vision = config.vision_config
    vision.embed_dim, vision.depth, vision.num_heads, vision.spatial_merge_size = 64, 2, 2, 1
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.save_pretrained(out_dir)
    processor = AutoProcessor.from_pretrained(str(out_dir))
    processor.image_processor.merge_size = 1
    processor.image_processor.size = {"shortest_edge": 28 * 28, "longest_edge": IMAGE_SIZE * IMAGE_SIZE}
    processor.save_pretrained(out_dir)
    return out_dir


class Student:
    """A student model in memory with its tokenizer and image processor; encodes rows and scores items."""

    def __init__(self, path: str | Path, shared: dict | None = None):
        """Load the student in ``path``; ``shared`` (a dict kept by the caller) shares the image and text caches
        between students of the same tokenizer and image processor (every student of one ablation run)."""
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.path = Path(path)
        self.processor = AutoProcessor.from_pretrained(str(path))
        self.tok = self.processor.tokenizer
        self.model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=torch.float32)
        self.pad = self.tok.pad_token_id
        self.image_token = self.tok.convert_tokens_to_ids("<|image_pad|>")
        shared = {} if shared is None else shared
        self._pixels: dict[str, tuple] = shared.setdefault("pixels", {})
        self._text: dict[str, list[int]] = shared.setdefault("text", {})

    def save(self, out_dir: str | Path) -> Path:
        """Save the model and processor to ``out_dir``."""
        self.model.save_pretrained(str(out_dir))
        self.processor.save_pretrained(str(out_dir))
        return Path(out_dir)

    def state(self) -> dict:
        """A copy of the weights."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def load_state(self, state: dict) -> None:
        """Load weights from :meth:`state`."""
        self.model.load_state_dict(state)

    # -- encoding -----------------------------------------------------------------------------------
    def ids(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens recognised; cached)."""
        if text not in self._text:
            self._text[text] = self.tok.encode(text, add_special_tokens=False)
        return self._text[text]

    def pixels(self, image_path: str | Path | None):
        """``(pixel_values, grid_thw, image_tokens)`` of an image file (cached), or of a gray image for ``None``."""
        key = str(image_path)
        if key not in self._pixels:
            from PIL import Image

            if image_path is None:
                img = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), GRAY)
            else:
                with Image.open(image_path) as im:
                    img = im.convert("RGB")
            out = self.processor.image_processor(images=[img], return_tensors="pt")
            grid = out["image_grid_thw"][0]
            merge = self.processor.image_processor.merge_size
            self._pixels[key] = (out["pixel_values"], grid, int(grid.prod()) // (merge * merge))
        return self._pixels[key]

    def _turn(self, role: str, text: str, image_tokens: int = 0) -> list[int]:
        vision = "<|vision_start|>" + "<|image_pad|>" * image_tokens + "<|vision_end|>" if image_tokens else ""
        return self.ids(f"<|im_start|>{role}\n{vision}") + self.ids(text) + self.ids("<|im_end|>\n")

    def prompt(self, question: str, image_tokens: int) -> list[int]:
        """Ids of the system turn, the user turn (image + ``question``) and the assistant header."""
        return (
            self.ids("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
            + self._turn("user", question, image_tokens)
            + self.ids("<|im_start|>assistant\n")
        )

    def encode_row(self, row: dict, root: Path) -> dict:
        """A TRL vision row (one image, user/assistant turns) as ids, labels (assistant turns only) and its image."""
        pixel_values, grid, n_tokens = self.pixels(root / row["images"][0])
        ids = self.ids("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
        labels = [-100] * len(ids)
        first_user = True
        for message in row["messages"]:
            text = "".join(p.get("text", "") for p in message["content"] if p.get("type") == "text")
            if message["role"] == "user":
                part = self._turn("user", text, n_tokens if first_user else 0)
                first_user = False
                ids, labels = ids + part, labels + [-100] * len(part)
            else:
                head, body, end = self.ids("<|im_start|>assistant\n"), self.ids(text), self.ids("<|im_end|>")
                nl = self.ids("\n")
                ids = ids + head + body + end + nl
                labels = labels + [-100] * len(head) + body + end + [-100] * len(nl)
        return {"ids": ids, "labels": labels, "pixels": pixel_values, "grid": grid}

    def batch(self, encoded: list[dict]) -> dict:
        """Right-padded tensors of encoded rows, with their images."""
        import torch

        width = max(len(e["ids"]) for e in encoded)
        input_ids = torch.tensor([e["ids"] + [self.pad] * (width - len(e["ids"])) for e in encoded])
        return {
            "input_ids": input_ids,
            "mm_token_type_ids": (input_ids == self.image_token).long(),
            "attention_mask": torch.tensor([[1] * len(e["ids"]) + [0] * (width - len(e["ids"])) for e in encoded]),
            "labels": torch.tensor([e["labels"] + [-100] * (width - len(e["labels"])) for e in encoded]),
            "pixel_values": torch.cat([e["pixels"] for e in encoded]),
            "image_grid_thw": torch.stack([e["grid"] for e in encoded]),
        }

    # -- scoring --------------------------------------------------------------------------------------
    def score(self, items: list[dict], root: Path, gray: bool = False, batch_items: int = 32) -> list[str]:
        """The model's answer to each item: its candidate with the highest summed log-probability.

        Each candidate is scored as the assistant turn ``candidate<|im_end|>`` after the item's prompt; with
        ``gray`` every image is replaced by a uniform gray one (the image carries nothing).
        """
        import torch

        answers = []
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(items), batch_items):
                chunk = items[start : start + batch_items]
                encoded, owners = [], []
                for k, item in enumerate(chunk):
                    pixel_values, grid, n_tokens = self.pixels(None if gray else root / item["image"])
                    prompt = self.prompt(item["question"], n_tokens)
                    for cand in item["candidates"]:
                        target = self.ids(cand) + self.ids("<|im_end|>")
                        encoded.append(
                            {"ids": prompt + target, "labels": [-100] * len(prompt) + target,
                             "pixels": pixel_values, "grid": grid}
                        )  # fmt: skip
                        owners.append(k)
                b = self.batch(encoded)
                hidden = self.model.model(**{k: v for k, v in b.items() if k != "labels"}).last_hidden_state
                labels = b["labels"][:, 1:]
                mask = labels != -100
                # the head only where a candidate token is predicted
                logp = torch.log_softmax(self.model.lm_head(hidden[:, :-1][mask]).float(), dim=-1)
                picked = logp.gather(-1, labels[mask].unsqueeze(-1)).squeeze(-1)
                rows = mask.nonzero()[:, 0]
                totals = torch.zeros(len(encoded)).index_add_(0, rows, picked).tolist()
                best: dict[int, tuple[float, str]] = {}
                pos = 0
                for k, item in enumerate(chunk):
                    for cand in item["candidates"]:
                        if k not in best or totals[pos] > best[k][0]:
                            best[k] = (totals[pos], cand)
                        pos += 1
                answers += [best[k][1] for k in range(len(chunk))]
        return answers

    def generate(self, items: list[dict], root: Path, max_new_tokens: int = 6, batch_items: int = 32) -> list[str]:
        """Greedy answers to ``items`` (the secondary metric's predictions), stopping at the end of turn."""
        import torch

        end = self.ids("<|im_end|>")[0]
        answers = []
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(items), batch_items):
                chunk = items[start : start + batch_items]
                prompts, pixels, grids = [], [], []
                for item in chunk:
                    pixel_values, grid, n_tokens = self.pixels(root / item["image"])
                    prompts.append(self.prompt(item["question"], n_tokens))
                    pixels.append(pixel_values)
                    grids.append(grid)
                outs: list[list[int]] = [[] for _ in chunk]
                done = [False] * len(chunk)
                for _ in range(max_new_tokens):
                    seqs = [p + o for p, o in zip(prompts, outs)]
                    width = max(map(len, seqs))
                    ids = torch.tensor([[self.pad] * (width - len(q)) + q for q in seqs])  # left-padded
                    mask = torch.tensor([[0] * (width - len(q)) + [1] * len(q) for q in seqs])
                    logits = self.model(
                        input_ids=ids,
                        attention_mask=mask,
                        mm_token_type_ids=(ids == self.image_token).long(),
                        pixel_values=torch.cat(pixels),
                        image_grid_thw=torch.stack(grids),
                        logits_to_keep=1,
                    ).logits[:, -1]
                    for k, token in enumerate(logits.argmax(-1).tolist()):
                        if done[k]:
                            continue
                        if token == end:
                            done[k] = True
                        else:
                            outs[k].append(token)
                    if all(done):
                        break
                answers += [self.tok.decode(o, skip_special_tokens=True).strip() for o in outs]
        return answers

    def accuracy(self, items: list[dict], root: Path, gray: bool = False) -> tuple[float, list[int]]:
        """Accuracy (0-100) over ``items`` and the per-item 0/1 scores."""
        answers = self.score(items, root, gray=gray)
        hits = [int(a == i["answer"]) for a, i in zip(answers, items)]
        return 100 * sum(hits) / max(1, len(hits)), hits

    def mean_loss(self, encoded: list[dict], batch_size: int = 32) -> float:
        """Mean token loss over encoded rows (weights unchanged)."""
        import torch

        self.model.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(encoded), batch_size):
                chunk = encoded[start : start + batch_size]
                b = self.batch(chunk)
                n = int((b["labels"][:, 1:] != -100).sum())
                total += float(self.model(**b).loss) * n
                tokens += n
        return total / max(1, tokens)

    # -- training -------------------------------------------------------------------------------------
    def train(
        self,
        rows: list[dict],
        root: Path,
        *,
        lr: float,
        seed: int,
        steps: int | None = None,
        epochs: int | None = None,
        batch_size: int = 32,
        heldout: list[dict] | None = None,
        patience: int = 2,
        warmup: float = 0.05,
        on_epoch=None,
        tune_threads: bool = True,
    ) -> dict:
        """Train on ``rows`` for ``steps`` steps or ``epochs`` epochs; returns a summary.

        With ``heldout`` rows (and ``epochs``), their loss is measured after every epoch, the best epoch's
        weights are restored at the end and training stops after ``patience`` epochs without improvement.
        ``on_epoch(epoch)`` (if given) is called after every epoch (e.g. to measure the general dev split).
        ``tune_threads``: keep picking the faster of 1 and all torch threads while training (two threads on two
        busy cores are many times slower: :func:`hub_tools.miniature.threads.thread_tuner_callback`); the count
        it last chose stays set for the scoring that follows.
        """
        from types import SimpleNamespace

        import torch

        from hub_tools.miniature.threads import thread_tuner_callback

        torch.manual_seed(seed)
        rng = random.Random(f"batches|{seed}")
        encoded = [self.encode_row(r, root) for r in rows]
        held = [self.encode_row(r, root) for r in heldout or []]
        size = min(batch_size, len(encoded))
        per_epoch = math.ceil(len(encoded) / size)
        total = steps if steps is not None else per_epoch * (epochs or 1)
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.0)
        warm = max(1, int(warmup * total))
        started = time.monotonic()
        step, epoch, losses, history = 0, 0, [], []
        best = (float("inf"), None, 0)
        order: list[int] = []
        tuner = thread_tuner_callback() if tune_threads else None
        tick = SimpleNamespace(global_step=0)
        while step < total:
            tick.global_step = step
            if tuner is not None:
                tuner.on_step_begin(None, tick, None)
            self.model.train()
            if not order:
                order = list(range(len(encoded)))
                rng.shuffle(order)
            chunk, order = order[:size], order[size:]
            for group in optimizer.param_groups:
                group["lr"] = lr * min((step + 1) / warm, max(0.0, (total - step) / max(1, total - warm)))
            loss = self.model(**self.batch([encoded[i] for i in chunk])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if tuner is not None:
                tuner.on_step_end(None, tick, None)
            step += 1
            if steps is not None and step % 250 == 0:
                print(f"      step {step}/{total}: loss {sum(losses[-50:]) / len(losses[-50:]):.3f}", flush=True)
            if steps is None and step % per_epoch == 0:
                epoch += 1
                order = []
                entry = {"epoch": epoch, "train_loss": round(sum(losses[-per_epoch:]) / per_epoch, 4)}
                if held:
                    entry["heldout_loss"] = round(self.mean_loss(held), 4)
                    if entry["heldout_loss"] < best[0]:
                        best = (entry["heldout_loss"], self.state(), epoch)
                if on_epoch is not None:
                    entry.update(on_epoch(epoch) or {})
                history.append(entry)
                if held and epoch - best[2] >= patience:
                    break
        if held and best[1] is not None:
            self.load_state(best[1])
        self.model.eval()
        return {
            "rows": len(encoded),
            "heldout_rows": len(held),
            "steps": step,
            "epochs_run": epoch if steps is None else round(step / per_epoch, 2),
            "best_epoch": best[2] if held else None,
            "lr": lr,
            "batch_size": size,
            "seconds": round(time.monotonic() - started, 1),
            "first_loss": round(losses[0], 4) if losses else None,
            "last_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4) if losses else None,
            "history": history,
            "thread_choices": [list(h) for h in tuner.history] if tuner is not None else [],
        }


def split_heldout(rows: list[dict], seed: int, share: float = 0.1) -> tuple[list[dict], list[dict]]:
    """``(train, heldout)``: a seeded ``share`` of ``rows`` (at least one when there are ten or more) held out."""
    order = list(range(len(rows)))
    random.Random(f"heldout|{seed}").shuffle(order)
    n = int(round(share * len(rows))) if len(rows) >= 10 else 0
    held = set(order[:n])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


class ReleasedMetrics:
    """The secondary metric: greedy answers scored with the released metric modules (SLAKE's, PMC-VQA's)."""

    def __init__(self, harness_dir: Path, order: dict[str, list[str]], bench: dict[str, list[dict]], root: Path):
        from hub_tools.evaluation.harness import load_metric
        from hub_tools.evaluation.tasks import load_split, resolve_tasks

        self.root = root
        self.by_id = {i["id"]: i for items in bench.values() for i in items}
        self.parts = []
        for harness, ids in order.items():
            task = resolve_tasks(harness)[0]
            self.parts.append((load_split(task, harness_dir), load_metric(task.metric), ids))

    def __call__(self, student) -> dict[str, float]:
        """``{"TASK/generated": accuracy 0-100}`` of ``student`` (one metric call per released task)."""
        scores: dict[str, float] = {}
        for split, metric, ids in self.parts:
            predictions = student.generate([self.by_id[i] for i in ids], self.root)
            result = split.compute(metric, split.items, predictions)
            if split.task.kind == "medical":
                scores["closed/generated"] = round(100 * float(result["closed_accuracy"]), 1)
                scores["open/generated"] = round(100 * float(result["open_recall"]), 1)
            else:
                scores["choice/generated"] = round(100 * float(result["accuracy"]), 1)
        return scores
