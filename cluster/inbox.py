"""What a node has applied of each other node's batches, and the gaps it fills from
their logs: exactly once, in each sender's order (docs/cluster.md, "Exactly once, in
order, replayed").

Socket-free: cluster/link.py feeds it every batch that comes over pub/sub
(`receive`), reads a sender's log in Redis when told to (`Step.fill`, and for every
sender at each new subscription: `catch_up`) and hands back what it read (`filled`).
What it gets back each time is the batches to apply now, in order.

A node publishes batches `[schema, node, epoch, first seq, messages]`; the seqs of one
run (epoch) of a node count its messages from 1 without a hole, and each batch is also
in that run's log (a Redis stream) under the id `0-SEQ`. So a receiver remembers per
sender only (epoch, last seq applied): that is where to resume reading the log. While
a sender's gap is being filled, its live batches are held, then released after what
the log gave, so nothing said later overtakes what was said before it; a batch seen
twice (live and in the log, or a pipeline sent twice) is applied once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Batch = tuple[int, list[Any]]  # (first seq, messages)


@dataclass(slots=True)
class Track:
    """One sender's run as this node has applied it."""

    epoch: int
    last: int  # the last seq applied (0: none yet)
    held: list[Batch] = field(default_factory=list)  # live batches waiting for a fill
    filling: bool = False  # its log is being read


@dataclass(slots=True)
class Step:
    """What to do after a batch or a fill: apply these lists of messages, in order."""

    apply: list[list[Any]] = field(default_factory=list)
    fill: int = 0  # >0: read the sender's log from this seq on (its gap)
    restarted: bool = False  # a new run of a sender known before: its old users go
    lost: int = 0  # messages its log no longer holds (trimmed, or Redis lost its data)
    replayed: int = 0  # messages of `apply` that came from the log


class Inbox:
    """Every other node's run and how far this node has applied it."""

    def __init__(self, since: int = 0) -> None:
        self.since = since  # this node's own epoch (its start, ns)
        self.tracks: dict[str, Track] = {}
        self.duplicates = 0  # messages seen twice, dropped
        self.lost = 0  # messages that could not be had

    def receive(self, node: str, epoch: int, seq: int, messages: list[Any]) -> Step:
        """A batch from pub/sub."""
        track = self.tracks.get(node)
        if track is None and (epoch < self.since or seq == 1):
            # Running before this node started: from here on (its state tells the rest).
            self.tracks[node] = Track(epoch, seq + len(messages) - 1)
            return Step(apply=[messages])
        if track is None:  # started since this node did: its start was missed, read it
            track = self.tracks[node] = Track(epoch, 0)
        step = Step()
        if epoch != track.epoch:
            if epoch < track.epoch:
                return step  # an older run of that node, late
            # A new run: its batches from 1 on, any missed ones from its log.
            track = self.tracks[node] = Track(epoch, 0)
            step.restarted = True
        if track.filling:
            track.held.append((seq, messages))
            return step
        if seq + len(messages) - 1 <= track.last:
            self.duplicates += len(messages)
            return step
        if seq > track.last + 1:  # a gap: hold this, read what is missing from the log
            track.held.append((seq, messages))
            track.filling = True
            step.fill = track.last + 1
            return step
        step.apply.append(self._take(track, seq, messages))
        return step

    def catch_up(self) -> list[tuple[str, int, int]]:
        """Subscribed again: every sender's log is read from where this node stopped
        (what was published while it was not subscribed). (node, epoch, from seq)."""
        wanted = []
        for node, track in self.tracks.items():
            track.filling = True
            wanted.append((node, track.epoch, track.last + 1))
        return wanted

    def filled(self, node: str, epoch: int, read: list[Batch], *, hold: bool = False) -> Step:
        """What the sender's log held from the asked seq on: it and the held batches,
        in order, each message once; what neither has is counted lost. With `hold`, the
        sender's live batches are still held after (its caller applies these over
        several loop passes, then calls `release`)."""
        track = self.tracks.get(node)
        step = Step()
        if track is None or track.epoch != epoch:
            return step  # that run was left meanwhile
        batches = sorted(
            [(seq, True, messages) for seq, messages in read]
            + [(seq, False, messages) for seq, messages in track.held],
            key=lambda batch: (batch[0], not batch[1]),
        )
        track.held = []
        track.filling = hold
        for seq, logged, messages in batches:
            if seq + len(messages) - 1 <= track.last:
                self.duplicates += len(messages)  # in the log and live, or read twice
                continue
            if seq > track.last + 1:
                step.lost += seq - track.last - 1
            taken = self._take(track, seq, messages)
            step.apply.append(taken)
            if logged:
                step.replayed += len(taken)
        self.lost += step.lost
        return step

    def release(self, node: str, epoch: int) -> Step:
        """Stop holding a sender's live batches: those held meanwhile, in order."""
        return self.filled(node, epoch, [])

    def abandon(self, node: str) -> None:
        """Forget a sender (its node is gone)."""
        self.tracks.pop(node, None)

    @staticmethod
    def _take(track: Track, seq: int, messages: list[Any]) -> list[Any]:
        """The messages of a batch not applied yet (all, unless it overlaps)."""
        skip = max(0, track.last + 1 - seq)
        track.last = seq + len(messages) - 1
        return messages[skip:] if skip else messages
