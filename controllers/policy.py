"""Controller policies over a factorized space: distributions over one token per decision.

`TokenPolicy` is the NASNet / MnasNet LSTM (for PPO); `FactorizedPolicy` is TuNAS's
independent per-decision softmaxes (for REINFORCE). Both train with torch on batches
(`log_prob`) and sample one sequence at a time in numpy (`sample`), where torch's per-call
overhead would dominate; numpy views share the weights' memory, so sampling always sees the
current ones. Tests hold the two paths equal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class _Slots(nn.Module):
    """Decision i's logits are outputs ``starts[i] .. starts[i] + card_i`` of one flat vector.

    `log_probs` lays them out as (decision, slot) with padding slots where cardinalities differ,
    so a whole batch is scored with a few tensor ops.
    """

    def __init__(self, cardinalities: Sequence[int]):
        super().__init__()
        self.cardinalities = tuple(cardinalities)
        cards = np.array(self.cardinalities)
        self.starts = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(int).tolist()
        slots = np.arange(cards.max())
        index = np.minimum(slots[None, :], cards[:, None] - 1) + np.array(self.starts)[:, None]
        real = slots[None, :] < cards[:, None]
        self.index_np, self.real_np = index, real  # for numpy sampling
        self.register_buffer("index", torch.tensor(index), persistent=False)
        self.register_buffer("real", torch.tensor(real), persistent=False)

    def score(self, logits: torch.Tensor,
              tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log_prob, entropy) of `tokens` (batch, decisions), summed over decisions.

        Args:
            logits: flat logits, (batch, decisions, total) per step or (total,) for all.
            tokens: long tensor (batch, decisions).
        """
        shape = (tokens.shape[0], *self.index.shape)
        if logits.dim() == 1:
            logits = logits[self.index].expand(shape)
        else:
            logits = logits.gather(2, self.index.expand(shape))
        logps = torch.log_softmax(logits.masked_fill(~self.real, -torch.inf), dim=-1)
        logps = logps.masked_fill(~self.real, 0.0)  # padding: p = 0 and p log p = 0
        chosen = logps.gather(2, tokens.unsqueeze(2)).squeeze(2)
        return chosen.sum(1), -(logps.exp() * logps).sum((1, 2))


def _draw(logits: np.ndarray, uniform: float) -> tuple[int, float]:
    """A token from softmax(logits) by inverse CDF, and its log-probability."""
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    token = min(int(np.searchsorted(np.cumsum(probs), uniform, side="right")), len(probs) - 1)
    return token, float(np.log(probs[token]))


class TokenPolicy(nn.Module):
    """An autoregressive LSTM policy (NASNet Appendix A.2, reused by MnasNet).

    Step i feeds the embedding of the token chosen at step i-1 (a learned start token at step 0)
    to a one-layer LSTM; a softmax head sized by decision i's cardinality turns the hidden state
    into that decision's distribution. Every previous token has its own embedding row, so
    "kernel 5 at stage 3" and "SE at stage 3" are different inputs. All weights start uniform in
    [-0.1, 0.1], as in NASNet. The heads are one linear layer; decision i reads its slice.

    Args:
        cardinalities: choices per decision, in the space's encode order.
        hidden_size: LSTM width and embedding size (NASNet: 100).
        generator: seeds the initial weights.
    """

    def __init__(self, cardinalities: Sequence[int], hidden_size: int = 100,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.slots = _Slots(cardinalities)
        cards = self.slots.cardinalities
        # Embedding row 0 is the start token; decision i's token t is row 1 + starts[i] + t
        # (the last decision's tokens are never fed back, so they get no rows).
        self.embed = nn.Embedding(1 + sum(cards[:-1]), hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, sum(cards))
        for weight in self.parameters():
            nn.init.uniform_(weight, -0.1, 0.1, generator=generator)
        self.register_buffer("feed_offset", 1 + torch.tensor(self.slots.starts[:-1],
                                                             dtype=torch.long), persistent=False)

    def log_prob(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy, each summed over decisions, of a batch of sequences.

        Args:
            tokens: long tensor (batch, decisions).

        Returns:
            (log_prob, entropy), each of shape (batch,).
        """
        start = torch.zeros(tokens.shape[0], 1, dtype=torch.long)
        rows = torch.cat([start, tokens[:, :-1] + self.feed_offset], dim=1)
        hidden, _ = self.lstm(self.embed(rows))
        return self.slots.score(self.head(hidden), tokens)

    def sample(self, rng: np.random.Generator) -> tuple[list[int], float]:
        """One token per decision, and the log-probability of the sequence (no gradient)."""
        w = self._numpy_weights()
        x = w["embed"][0]
        h = c = np.zeros(w["w_hh"].shape[1], dtype=np.float32)
        uniforms = rng.random(len(self.slots.cardinalities))
        tokens, logp = [], 0.0
        for i, (start, card) in enumerate(zip(self.slots.starts, self.slots.cardinalities)):
            h, c = _lstm_step(x, h, c, w)
            logits = w["head_w"][start : start + card] @ h + w["head_b"][start : start + card]
            token, token_logp = _draw(logits, uniforms[i])
            tokens.append(token)
            logp += token_logp
            if i < len(self.slots.cardinalities) - 1:
                x = w["embed"][1 + start + token]
        return tokens, logp

    def _numpy_weights(self) -> dict[str, np.ndarray]:
        lstm = self.lstm
        return {"embed": self.embed.weight.detach().numpy(),
                "w_ih": lstm.weight_ih_l0.detach().numpy(),
                "w_hh": lstm.weight_hh_l0.detach().numpy(),
                "bias": (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy(),
                "head_w": self.head.weight.detach().numpy(),
                "head_b": self.head.bias.detach().numpy()}


def _lstm_step(x: np.ndarray, h: np.ndarray, c: np.ndarray,
               w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """torch.nn.LSTM's cell in numpy; gates in torch's order: input, forget, cell, output."""
    gates = w["w_ih"] @ x + w["w_hh"] @ h + w["bias"]
    n = h.shape[0]
    sig = 1.0 / (1.0 + np.exp(-gates))  # all four at once; the cell gate's is unused
    c = sig[n : 2 * n] * c + sig[:n] * np.tanh(gates[2 * n : 3 * n])
    return sig[3 * n :] * np.tanh(c), c


class FactorizedPolicy(nn.Module):
    """Independent softmaxes, one per decision, logits starting at 0 (uniform), as in TuNAS.

    Args:
        cardinalities: choices per decision, in the space's encode order.
    """

    def __init__(self, cardinalities: Sequence[int]):
        super().__init__()
        self.slots = _Slots(cardinalities)
        self.logits = nn.Parameter(torch.zeros(sum(self.slots.cardinalities)))

    def log_prob(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy, each summed over decisions, of a batch of sequences."""
        return self.slots.score(self.logits, tokens)

    def sample(self, rng: np.random.Generator) -> tuple[list[int], float]:
        """One token per decision, and the log-probability of the sequence (no gradient).

        All decisions at once, by the same inverse CDF as `_draw`.
        """
        slots = self.slots
        logits = np.where(slots.real_np, self.logits.detach().numpy()[slots.index_np], -np.inf)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        uniforms = rng.random(len(slots.cardinalities))
        below = (np.cumsum(probs, axis=1) <= uniforms[:, None]).sum(axis=1)
        tokens = np.minimum(below, np.array(slots.cardinalities) - 1)
        logp = float(np.log(probs[np.arange(len(tokens)), tokens]).sum())
        return tokens.tolist(), logp
