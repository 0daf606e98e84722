"""What ``prune_channels`` did: per channel group and per layer, channels, Mult-Adds and params before and after."""

import dataclasses

GROUP_STATUSES = ("pruned", "kept", "prunable", "fixed")


@dataclasses.dataclass(frozen=True)
class ChannelGroup:
    """A set of channels that is pruned as one (a segment, see ``channel_groups``), or fixed channels.

    name: the first layer that makes the channels; layers: every layer they pass (producers, depthwise
    convs, BatchNormalizations, consumers...); channels_*: their number in ``name``'s output;
    status: ``pruned`` / ``kept`` (prunable, none removed) / ``prunable`` (``channel_groups``, before
    pruning) / ``fixed``; reason: the criterion used, or why the channels are fixed.
    """

    name: str
    layers: tuple
    channels_before: int
    channels_after: int
    status: str
    reason: str


@dataclasses.dataclass(frozen=True)
class LayerChange:
    """One layer's output channels, Mult-Adds and trainable params before and after (profiler definitions)."""

    name: str
    layer_type: str
    channels_before: int
    channels_after: int
    mult_adds_before: int
    mult_adds_after: int
    params_before: int
    params_after: int


@dataclasses.dataclass(frozen=True)
class ChannelPruningReport:
    """The result of ``prune_channels``: targets, totals, groups and layers.

    Mult-Adds and params (trainable, as in the zoo tables) are those ``keras_mobile.profile`` counts
    on the original and on the pruned model; ``prune_channels`` checks that the pruned model has
    exactly the figures it planned. ``kept_channels[layer]`` lists, for every layer whose output lost
    channels, the original indices of the output channels it kept (in order).
    """

    model_name: str
    criterion: str
    target_reduction: float
    round_to: int
    mult_adds_before: int
    mult_adds_after: int
    params_before: int
    params_after: int
    groups: tuple
    layers: tuple
    kept_channels: dict

    @property
    def mac_reduction(self):
        """The fraction of Mult-Adds removed (at least ``target_reduction``)."""
        return 1.0 - self.mult_adds_after / self.mult_adds_before

    @property
    def params_reduction(self):
        return 1.0 - self.params_after / self.params_before

    def kept(self, layer_name):
        """Original indices of ``layer_name``'s output channels that survive (all of them if none went)."""
        if layer_name in self.kept_channels:
            return self.kept_channels[layer_name]
        for row in self.layers:
            if row.name == layer_name:
                return tuple(range(row.channels_before))
        raise KeyError(f"layer_name={layer_name!r} is not a layer of model '{self.model_name}'")

    def to_dict(self):
        """JSON-ready: the fields, the achieved reductions, and groups / layers as lists of dicts."""
        return {
            "model": self.model_name,
            "criterion": self.criterion,
            "target_reduction": self.target_reduction,
            "round_to": self.round_to,
            "mult_adds_before": self.mult_adds_before,
            "mult_adds_after": self.mult_adds_after,
            "mac_reduction": self.mac_reduction,
            "params_before": self.params_before,
            "params_after": self.params_after,
            "params_reduction": self.params_reduction,
            "groups": [dataclasses.asdict(group) for group in self.groups],
            "layers": [dataclasses.asdict(layer) for layer in self.layers],
            "kept_channels": {name: list(indices) for name, indices in self.kept_channels.items()},
        }

    def format(self, layers=True):
        """Plain-text report: totals, the channel groups, then (``layers``) every layer with weights or Mult-Adds."""
        lines = [
            f"channel pruning of {self.model_name}: criterion {self.criterion}, target {self.target_reduction:.1%} "
            f"of Mult-Adds, round_to {self.round_to}",
            f"Mult-Adds {self.mult_adds_before:,} -> {self.mult_adds_after:,} (-{self.mac_reduction:.1%}); "
            f"params {self.params_before:,} -> {self.params_after:,} (-{self.params_reduction:.1%})",
            "",
            f"{'group (first layer)':40} {'channels':>13} {'status':8} {'layers':>6}  reason",
        ]
        for group in self.groups:
            channels = f"{group.channels_before} -> {group.channels_after}"
            lines.append(f"{group.name[:40]:40} {channels:>13} {group.status:8} {len(group.layers):>6}  {group.reason}")
        if layers:
            lines += ["", f"{'layer':40} {'type':18} {'channels':>13} {'Mult-Adds':>25} {'params':>21}"]
            for row in self.layers:
                if not (row.mult_adds_before or row.params_before):
                    continue
                lines.append(
                    f"{row.name[:40]:40} {row.layer_type[:18]:18} "
                    f"{f'{row.channels_before} -> {row.channels_after}':>13} "
                    f"{f'{row.mult_adds_before:,} -> {row.mult_adds_after:,}':>25} "
                    f"{f'{row.params_before:,} -> {row.params_after:,}':>21}"
                )
        return "\n".join(lines)
