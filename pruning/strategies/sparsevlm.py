"""SparseVLM v1 (Zhang et al., "SparseVLM: Visual Token Sparsification for Efficient Vision-Language Model
Inference", ICML 2025; github.com/Gumpest/SparseVLMs), decoder stage, as pure batched tensor functions.

Semantics: reference/ALGORITHMS.md. Text tokens after the image whose softmax relevance to the visual
tokens (input embeddings) exceeds the mean are "raters". At decoder layers K in `layers` (released
[2, 6, 15]) the visual tokens are scored by the raters' attention (mean over heads and raters), the top
k_l are kept, the top 30% of the pruned ones (by score) are clustered with DPC-kNN into int(n/10)+1
clusters whose means are appended after the kept tokens ("recycling"), positions renumbered contiguously.

How the LLaVA adapter calls this (B samples, left-padded, one image of N visual tokens each; N is the same
for every sample, and stays the same across the batch after every prune layer, since the counts depend
only on N and k_l):

    s = SparseVLM(**plan.params)                   # layers K, schedule, recycle_ratio, knn
    ks = s.keep_counts(plan.budget)                # k_l per prune layer, e.g. T=192 -> [300, 200, 110]
    # once, before layer 0, from the INPUT EMBEDDINGS (projector output spliced into the token embeddings):
    t_idx, t_mask = rows_after_image(img_start + n_vis, L)       # (B, Lt) text rows after the image
    raters = s.raters(gather(embeds, t_idx), embeds[visual rows], t_mask)   # (B, Lt) bool, fixed from now on
    for i, layer in enumerate(decoder.layers):
        if i in s.layers:                                           # prune layer K = layers[j], k = ks[j]
            # attention of the text rows' queries over ALL keys of this layer: input_layernorm -> q_proj /
            # k_proj -> RoPE at the current positions -> (repeat_kv for GQA) -> q k^T / sqrt(head_dim) + the
            # causal/padding mask -> softmax over all keys (fp32); then keep only the columns of the current
            # visual tokens. Only the Lt text query rows are needed (rows with raters[b, t] False are ignored,
            # they may hold anything, even NaN), so the full (L, L) map never exists.
            attn = ...                                              # (B, H, Lt, N_cur)
            scores = s.score(attn, raters)                          # (B, N_cur)
            hidden = layer(hidden, ...)                             # layer K runs on the FULL sequence; its
                                                                    # KV cache keeps every token (as released)
            keep_idx, recycled = s.prune(hidden[visual rows], scores, k)   # (B, k) ascending, (B, c, D)
            vis = s.assemble(hidden[visual rows], keep_idx, recycled)      # (B, k + c, D)
            hidden = [prefix | vis | text]; N_cur = k + c; positions renumbered 0..L'-1 over real tokens,
            masks rebuilt; raters stay valid (text rows keep their order relative to the image end)
        else:
            hidden = layer(hidden, ...)
    # Decode: layer i's cache holds the tokens of its segment; the released code puts a new token at RoPE
    # position = that layer's cache length (contiguous renumbering per segment).
    # Visual tokens entering each layer (accounting, Output.kept_per_layer): s.visual_per_layer(N, n_layers, T).

Differences from the released code (all result-preserving where the released code is well defined):
- Batched over B with a text mask (the released code assumes B = 1 and no padding): rater softmax and its
  mean threshold run over each sample's real text tokens only. A sample without any rater (e.g. one text
  token, whose relevance equals the mean) uses all its text tokens as raters instead of a NaN score.
- Rater relevance and scores run in float32, clustering distances in float64 (released: the model dtype).
- Ties break by position (stable sorts) instead of torch.topk's unspecified order and DPC-kNN's 1e-6
  random density noise, so results are deterministic and batched == per-sample.
- DPC-kNN ranks density and center score in log space (log density = -mean squared kNN distance), the
  same order as density * distance without fp underflow of exp(-d^2) for far-apart hidden states.
- k_l >= N_cur keeps every token and recycles nothing (released: keeps N_cur - 1 and "recycles" one).
- recycle_ratio = 0 recycles nothing (released formula int(n * 0.3) + 1 would still merge one token).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from pruning.registry import check_budget, check_ratio
from pruning.types import Selection, Stage, VisionTokens

# Released keep schedules k_l for layers [2, 6, 15]; the key T is the layer-averaged visual count (the
# released log's "equal token num" over LLaVA-1.5-7B's 32 layers; see SparseVLM.layer_average).
SCHEDULES: dict[int, tuple[int, ...]] = {
    192: (300, 200, 110),
    128: (303, 110, 36),
    96: (238, 48, 26),
    64: (66, 30, 17),
}
CLUSTER_SIZE = 10  # int(n / 10) + 1 clusters for n recycled tokens


@dataclass(frozen=True)
class SparseVLM:
    layers: tuple[int, ...] = (2, 6, 15)  # K: 0-based decoder layers whose OUTPUT is pruned
    schedule: tuple[int, ...] | None = None  # k_l per prune layer; None = SCHEDULES[T]
    recycle_ratio: float = 0.3  # share of the pruned tokens (top by score) recycled by clustering
    knn: int | None = None  # DPC-kNN neighbours; None = number of clusters, as released
    stage: ClassVar[Stage] = "decoder"

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        if not layers or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in layers) \
                or any(b <= a for a, b in zip(layers, layers[1:])):
            raise ValueError(f"SparseVLM: layers must be strictly increasing layer indices >= 0, got {self.layers!r}")
        object.__setattr__(self, "layers", layers)
        if self.schedule is not None:
            schedule = tuple(self.schedule)
            if len(schedule) != len(layers) or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in schedule):
                raise ValueError(f"SparseVLM: schedule must give one integer k >= 1 per prune layer {layers}, got {self.schedule!r}")
            object.__setattr__(self, "schedule", schedule)
        elif len(layers) != 3:
            raise ValueError(f"SparseVLM: the released schedules have 3 prune layers; with layers={layers} pass schedule=(k, ...)")
        check_ratio("SparseVLM", "recycle_ratio", self.recycle_ratio)
        if self.knn is not None and (isinstance(self.knn, bool) or not isinstance(self.knn, int) or self.knn < 1):
            raise ValueError(f"SparseVLM: knn must be an integer >= 1 or None, got {self.knn!r}")

    def check_depth(self, n_layers: int) -> None:
        """Prune layer K's result is applied at K + 1 (it reads layer K's attention), so K <= n_layers - 2."""
        if self.layers[-1] >= n_layers - 1:
            raise ValueError(f"SparseVLM: prune layers {self.layers} need a decoder deeper than {self.layers[-1] + 1} "
                             f"layers (this one has {n_layers}); pass layers=(...) below {n_layers - 1}")

    def select(self, tokens: VisionTokens, budget: int) -> Selection:
        raise RuntimeError("SparseVLM is a decoder-stage strategy (stage='decoder'): it prunes inside the LLM at layers "
                           f"{self.layers} and runs inside a model adapter's decoder loop, not through select(); "
                           "see the pruning.strategies.sparsevlm module docstring")

    # ---- counts -------------------------------------------------------------------------------------
    def keep_counts(self, budget: int) -> list[int]:
        """k_l per prune layer for budget T (the explicit schedule, when given, regardless of T)."""
        if self.schedule is not None:
            return list(self.schedule)
        check_budget("SparseVLM", budget)
        if budget not in SCHEDULES:
            raise ValueError(f"SparseVLM: no released keep schedule for budget T={budget}; valid budgets: "
                             f"{sorted(SCHEDULES)} (or pass schedule=(k1, k2, k3))")
        return list(SCHEDULES[budget])

    def recycle_sizes(self, n_pruned: int) -> tuple[int, int]:
        """(n recycled, clusters c) for n_pruned pruned tokens: n = int(n_pruned * 0.3) + 1, c = int(n / 10) + 1."""
        if n_pruned <= 0 or self.recycle_ratio == 0:
            return 0, 0
        n = min(n_pruned, int(n_pruned * self.recycle_ratio) + 1)
        return n, min(n, n // CLUSTER_SIZE + 1)

    def visual_counts(self, n_visual: int, budget: int) -> list[int]:
        """Visual tokens after each prune layer: k_l kept + c_l recycled (N when k_l >= N)."""
        out, n = [], n_visual
        for k in self.keep_counts(budget):
            if k < n:
                n = k + self.recycle_sizes(n - k)[1]
            out.append(n)
        return out

    def visual_per_layer(self, n_visual: int, num_layers: int, budget: int) -> list[int]:
        """Visual tokens entering each of num_layers decoder layers (prune layer K sees the unpruned count)."""
        if self.layers[-1] >= num_layers:
            raise ValueError(f"SparseVLM: prune layer {self.layers[-1]} does not exist in a {num_layers}-layer decoder")
        counts, out, n, j = self.visual_counts(n_visual, budget), [], n_visual, 0
        for i in range(num_layers):
            out.append(n)
            if j < len(self.layers) and i == self.layers[j]:
                n, j = counts[j], j + 1
        return out

    def layer_average(self, n_visual: int, num_layers: int, budget: int) -> float:
        """The released log's "equal token num": mean over layers of the visual tokens each layer OUTPUTS
        (a prune layer counts its pruned output). ~T for LLaVA-1.5-7B (32 layers, N=576): 192 -> 192.03."""
        per = self.visual_per_layer(n_visual, num_layers, budget)
        return sum(per[1:] + per[-1:]) / num_layers

    # ---- tensor functions -----------------------------------------------------------------------------
    def raters(self, text_embeds: torch.Tensor, visual_embeds: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """Text tokens after the image whose relevance to the image exceeds the sample's mean relevance.

        text_embeds (B, L, D), visual_embeds (B, N, D): input embeddings; text_mask (B, L) bool real text rows.
        Relevance of text token t = mean over visual tokens v of softmax_t(e_v . e_t). Returns (B, L) bool.
        """
        if not bool(text_mask.any(1).all()):
            raise ValueError("SparseVLM.raters: every sample needs at least one text token after the image")
        logits = visual_embeds.float() @ text_embeds.float().transpose(1, 2)  # (B, N, L)
        logits = logits.masked_fill(~text_mask[:, None, :], float("-inf"))
        rel = logits.softmax(-1).mean(1)  # (B, L)
        mean = rel.masked_fill(~text_mask, 0).sum(1, keepdim=True) / text_mask.sum(1, keepdim=True)  # (B, 1)
        r = (rel > mean) & text_mask  # (B, L)
        return torch.where(r.any(1, keepdim=True), r, text_mask)

    def score(self, attn: torch.Tensor, rater_mask: torch.Tensor) -> torch.Tensor:
        """attn (B, H, L, N_vis) softmax attention of the text rows over the current visual keys at the prune
        layer; rater_mask (B, L). Returns (B, N_vis): mean over heads and raters. Non-rater rows are ignored."""
        a = attn.float().mean(1)  # (B, L, N_vis)
        a = torch.where(rater_mask[..., None], a, torch.zeros((), dtype=a.dtype, device=a.device))
        return a.sum(1) / rater_mask.sum(1, keepdim=True).clamp(min=1)  # (B, N_vis)

    def prune(self, hidden_vis: torch.Tensor, scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the top-k visual tokens by score; recycle the top recycle_ratio of the rest by DPC-kNN.

        hidden_vis (B, N, D): the prune layer's output at the visual rows; scores (B, N) from score().
        Returns keep_idx (B, k') ascending (k' = min(k, N)) and recycled (B, c, D) cluster means, in
        descending DPC center score, to be placed right after the kept tokens (c = 0 when nothing is pruned).
        """
        B, N, D = hidden_vis.shape
        if k >= N:
            return torch.arange(N, device=hidden_vis.device).expand(B, N).contiguous(), hidden_vis.new_zeros(B, 0, D)
        order = scores.argsort(dim=-1, descending=True, stable=True)  # (B, N)
        keep_idx = order[:, :k].sort(dim=-1).values  # (B, k)
        n_rec, c = self.recycle_sizes(N - k)
        if n_rec == 0:
            return keep_idx, hidden_vis.new_zeros(B, 0, D)
        rec = order[:, k:k + n_rec]  # (B, n) top pruned tokens, descending score
        x = hidden_vis.gather(1, rec[..., None].expand(B, n_rec, D))  # (B, n, D)
        assign = dpc_knn(x, c, self.knn or c)  # (B, n)
        return keep_idx, cluster_means(x, assign, c)

    @staticmethod
    def assemble(hidden_vis: torch.Tensor, keep_idx: torch.Tensor, recycled: torch.Tensor) -> torch.Tensor:
        """The new visual block: kept tokens in raster order, then the recycled ones. (B, k + c, D)."""
        kept = hidden_vis.gather(1, keep_idx[..., None].expand(-1, -1, hidden_vis.shape[-1]))  # (B, k, D)
        return torch.cat([kept, recycled.to(kept.dtype)], dim=1)


def rows_after_image(img_end: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence rows of the text after the image, padded: img_end (B,) first row after each image.

    Returns idx (B, Lt) clamped into [0, seq_len) and mask (B, Lt), Lt = seq_len - min(img_end).
    """
    Lt = seq_len - int(img_end.min())
    idx = img_end[:, None] + torch.arange(Lt, device=img_end.device)  # (B, Lt)
    return idx.clamp(max=seq_len - 1), idx < seq_len


def dpc_knn(x: torch.Tensor, n_clusters: int, k_neighbors: int) -> torch.Tensor:
    """Density-peaks clustering with kNN density (TCFormer; SparseVLM's cluster_and_merge).

    x (B, n, D). d_ij = ||x_i - x_j|| / sqrt(D); density rho_i = exp(-mean of d^2 to the k nearest
    neighbours, self included); delta_i = min d_ij over denser j (the max of d for the densest token);
    centers = the n_clusters largest rho * delta; each token joins its nearest center, a center itself.
    Returns assignment (B, n) int64 in [0, n_clusters), cluster j = the j-th highest center score.
    """
    B, n, D = x.shape
    c, k = min(n_clusters, n), min(k_neighbors, n)
    xd = x.double()  # float64 Gram form: exact enough for kNN ties, ~10x faster than a difference kernel
    sq = (xd * xd).sum(-1)  # (B, n)
    d2 = (sq[:, :, None] + sq[:, None, :] - 2 * xd @ xd.transpose(1, 2)).clamp(min=0)  # (B, n, n)
    d2 = d2 * (1 - torch.eye(n, dtype=d2.dtype, device=d2.device))  # exact zero self-distance
    dist = d2.sqrt() / D**0.5  # (B, n, n)
    log_rho = -(dist.topk(k, dim=-1, largest=False).values ** 2).mean(-1)  # (B, n)
    rank = log_rho.argsort(dim=-1, descending=True, stable=True).argsort(dim=-1)  # (B, n) 0 = densest
    denser = rank[:, None, :] < rank[:, :, None]  # (B, i, j): j denser than i
    d_max = dist.flatten(1).max(-1).values[:, None, None]  # (B, 1, 1)
    delta = torch.where(denser, dist, d_max).min(-1).values  # (B, n)
    centers = (delta.log() + log_rho).argsort(dim=-1, descending=True, stable=True)[:, :c]  # (B, c)
    assign = dist.gather(1, centers[..., None].expand(B, c, n)).argmin(1)  # (B, n)
    return assign.scatter(1, centers, torch.arange(c, device=x.device).expand(B, c))


def cluster_means(x: torch.Tensor, assign: torch.Tensor, n_clusters: int) -> torch.Tensor:
    """x (B, n, D), assign (B, n) -> (B, n_clusters, D) mean of each cluster's members (x's dtype)."""
    onehot = F.one_hot(assign, n_clusters).float()  # (B, n, c)
    sums = onehot.transpose(1, 2) @ x.float()  # (B, c, D)
    return (sums / onehot.sum(1)[..., None].clamp(min=1)).to(x.dtype)
