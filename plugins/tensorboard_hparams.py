"""TensorBoard HParams records, built as protocol buffers: the columns of a search and one session (row) per trial.

TensorBoard's HParams dashboard shows one row per *session*, a run holding a session-start record (the hparam
values) and scalars (the metrics). Its columns come from an *experiment* record. The dashboard shows the first
five hparam columns by default, those marked ``differs`` first (then by name), and prints every number with five
significant digits ("5.0000"); integers are therefore written as text, and the columns meant to be visible
(the decisions of the space) are the ones marked ``differs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2


@dataclass(frozen=True)
class Column:
    """An hparam column: text values; ``choices`` is its complete domain (empty: free text, filtered by regular
    expression); ``visible`` columns are shown without ticking them."""

    name: str
    choices: tuple[str, ...] = ()
    visible: bool = False


@dataclass(frozen=True)
class MetricColumn:
    """A metric column: the scalar ``tag`` of each session, titled ``display_name``."""

    tag: str
    display_name: str = ""


def _summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    value = Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)
    return Summary(value=[value])


def experiment_summary(columns: Sequence[Column], metrics: Sequence[MetricColumn], description: str = "") -> Summary:
    """The experiment record: every column and metric the sessions may have."""
    hparams = []
    for column in columns:
        info = api_pb2.HParamInfo(name=column.name, type=api_pb2.DATA_TYPE_STRING, differs=column.visible)
        if column.choices:
            info.domain_discrete.extend(column.choices)
        hparams.append(info)
    infos = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=metric.tag), display_name=metric.display_name)
             for metric in metrics]
    experiment = api_pb2.Experiment(description=description, hparam_infos=hparams, metric_infos=infos)
    return _summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment))


def session_start_summary(values: Mapping[str, str], start_time: float) -> Summary:
    """A session's hparam values (text) and start time."""
    info = plugin_data_pb2.SessionStartInfo(start_time_secs=start_time)
    for name, value in values.items():
        info.hparams[name].string_value = value
    return _summary(metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=info))


def session_end_summary(succeeded: bool, end_time: float) -> Summary:
    """A session's end: success or failure (the dashboard filters by it)."""
    status = api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE
    info = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=end_time)
    return _summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=info))
