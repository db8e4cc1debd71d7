"""Cancelling a run trained by several processes: every rank stops at the same step."""

from __future__ import annotations

import os
import socket

import torch.distributed as dist
import torch.multiprocessing as mp

from studio.train.callbacks import agreed_across_ranks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank(rank: int, port: int, asked_by: list[int], results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        results[rank] = [agreed_across_ranks(rank in asked) for asked in asked_by]
    finally:
        dist.destroy_process_group()


def test_a_cancel_seen_by_one_rank_stops_both() -> None:
    # step 1: nobody asked; step 2: only rank 1 got the signal; step 3: only rank 0
    asked_by = [[], [1], [0]]
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank, args=(_free_port(), asked_by, results), nprocs=2, join=True)
        assert dict(results) == {0: [False, True, True], 1: [False, True, True]}


def test_a_single_process_keeps_its_own_flag() -> None:
    assert agreed_across_ranks(True) is True and agreed_across_ranks(False) is False
