"""Built-in restoration tasks."""

#: DIP's own network, the baseline every built-in task is compared with.
DIP_BASELINE = "dip-skip"
