"""The error roots (``sparkeo.errors``): fields as attributes, own messages, and pickling.

Errors travel pickled from Spark executors to the driver, so every sparkeo error of every product
package must come back with its type, message, fields and exit code.
"""
from __future__ import annotations

import copy
import datetime as dt
import inspect
import pickle

import pytest

import jobs.errors as je
import layercatalog.errors as ce
import sparkapps.errors as ae
import tracker.errors as te
from jobs.results.download import UnsafeResultsPath
from jobs.results.location import ResultsLocationError
from jobs.results.reader import NotAResultsDocument, ResultsNotFound
from sparkeo.cli.track import TrackError
from sparkeo.errors import ConfigError, NotFoundInStorage, NotText, RunError, SparkeoError, StorageError, UserError
from sparkeo.geometry import BoundsTransformError, UnknownCRSError
from sparkeo.names import InvalidJobId, InvalidName, InvalidUserName
from sparkeo.api.podlogs import DriverLogUnreadable
from sparkeo.readpolicy import ReadRefused

# One instance of every concrete sparkeo error class.
EXAMPLES = [
    ConfigError("SPARKEO_TILE_SIZE", -1, "must be positive"),
    StorageError("s3://bucket/key", "connection refused"),
    NotFoundInStorage("/data/graph.json"),
    NotText("/data/graph.json", 7),
    ReadRefused("http://169.254.169.254/", "169.254.169.254 is a link-local address"),
    UnknownCRSError("EPSG:0", "no such code"),
    BoundsTransformError((0.0, 0.0, 1.0, 1.0), 4326, 32631, "not finite"),
    InvalidName("user name", "", "must be non-empty"),
    InvalidJobId("Job_1", "upper case"),
    InvalidUserName("a/b", "contains '/'"),
    TrackError(("default", "eo")),
    je.ProcessGraphError("ndvi1", "data", "missing argument"),
    je.ProcessError("DimensionNotAvailable", "no dimension 't'", "reduce1", "dimension"),
    je.BuildError("load1", "load_collection", ValueError("boom")),
    je.TransientReadError("s3://b/a.tif", "503 Slow Down"),
    je.UnreadableAssetError("s3://b/a.tif", "not a TIFF"),
    je.UdfError("apply1/runudf1", "the UDF raised ZeroDivisionError: division by zero"),
    je.TooManySkippedAssets(["a.tif", "b.tif", "c.tif", "d.tif"], 10, 0.2),
    je.TooManyParts("s3://b/out", 1_300_000, 1_300_000, 10_143, 10_000),
    je.BudgetExceeded("max_input_pixels", 2_000_000, 1_000_000),
    je.LoadError("load1", "bands", "no band 'B99'"),
    ResultsNotFound("results/j1", "results/j1/collection.json"),
    NotAResultsDocument("results/j1/collection.json", "no assets"),
    ResultsLocationError("results/j1", "holds files of someone else"),
    DriverLogUnreadable("j-1", "sparkeo-j-1-driver", "403 Forbidden"),
    UnsafeResultsPath("results/j1", "../x.tif", "leaves the location"),
    ce.InvalidCatalogError("catalog.json", "S2", "no extent"),
    ce.UnknownCollectionError("S3", ["S2", "L8"]),
    ce.UnknownBandError("S2", "B99", ["B02", "B03"]),
    ce.EmptyQueryError("S2", (5.0, 50.0, 6.0, 51.0), (dt.datetime(2023, 3, 1, tzinfo=dt.timezone.utc), None)),
    ce.ExtentError("S2", (5.0, 50.0, 6.0, 51.0), (0.0, 0.0, 1.0, 1.0)),
    ce.InvalidQueryError("bbox", "1,2", "needs four numbers"),
    ce.PropertyFilterError("eo:cloud_cover", "unsupported process 'between'"),
    ce.UnsupportedDataSourceError("S2", "sentinel-hub", "https://example.org", "no API key"),
    ce.StacApiError("https://example.org/stac/collections/s2", "503 Service Unavailable after 5 retries"),
    ae.JobOptionError("executor-memory", "1T", "at most 16g"),
    ae.SubmitError("j1", "eo", "HTTP 500"),
    ae.SparkAppNotFound("j1", "eo"),
    ae.SparkAppConflict("j1", "eo", "already exists"),
    ae.SparkAppInvalid("j1", "eo", ["spec.driver.cores: must be an integer"]),
    ae.KubernetesUnreachable("j1", "eo", "no configuration"),
    te.JobNotFound("j1", "alice"),
    te.JobExists("j1"),
    te.IllegalTransition("j1", "finished", "running"),
    te.RecordTooLarge("j1", 2_000_000, 1_000_000),
    te.InvalidRecord("j1", "state", "done", "unknown state"),
    te.CorruptRecord("/sparkeo/jobs/j1", "not JSON"),
    te.RegistryConflict("j1", 5),
    te.StaleRecord("j1", "/sparkeo/jobs/j1", gone=True),
    te.RegistryUnavailable("zk:2181", "connection lost"),
    te.RegistryDenied("/sparkeo/jobs/j1"),
]
# Family markers and roots, never raised as such.
ABSTRACT = {SparkeoError, UserError, RunError, ce.CatalogError, te.RegistryError}


def _subclasses(cls: type) -> set[type]:
    return {s for c in cls.__subclasses__() for s in {c} | _subclasses(c)}


def _state(e: BaseException) -> dict:
    # an exception held in a field compares by identity: compare its type and text instead
    return {k: (type(v), str(v)) if isinstance(v, BaseException) else v for k, v in vars(e).items()}


def test_every_error_class_has_an_example():
    product = {c for c in _subclasses(SparkeoError) if c.__module__.split(".")[0] != "tests"}
    assert product - ABSTRACT - {type(e) for e in EXAMPLES} == set()


def test_fields_are_attributes_and_the_message_is_the_only_argument():
    e = te.InvalidRecord("j1", "state", "done", "unknown state")
    assert (e.job_id, e.field, e.value, e.reason) == ("j1", "state", "done", "unknown state")
    assert str(e) == e.message == "job 'j1': invalid state 'done': unknown state"
    assert e.args == (e.message,)
    assert SparkeoError("plain").message == "plain"


def test_subclass_fields_add_to_the_family_fields():
    e = ae.SparkAppInvalid("j1", "eo", ("a: b", "c: d"))
    assert (e.name, e.namespace, e.problems) == ("j1", "eo", ["a: b", "c: d"])
    assert isinstance(e, ae.SubmitError) and e.exit_code == 1
    j = InvalidJobId("Job_1", "upper case")
    assert (j.job_id, j.kind, j.value) == ("Job_1", "job id", "Job_1")


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_pickle_round_trip_keeps_type_message_fields_and_exit_code(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and back.args == error.args == (str(error),)
    assert _state(back) == _state(error)
    assert back.exit_code == error.exit_code
    assert _state(copy.copy(error)) == _state(error)


def test_builtin_mixins_survive_the_round_trip():
    back = pickle.loads(pickle.dumps(StorageError("s3://bucket/key", "connection refused")))
    assert isinstance(back, OSError) and isinstance(back, RunError)
    assert back.args == ("s3://bucket/key: connection refused",) and back.uri == "s3://bucket/key"
    back = pickle.loads(pickle.dumps(NotFoundInStorage("/x")))
    assert isinstance(back, FileNotFoundError) and back.exit_code == 2


class Quota(UserError):
    """An error declared by its template alone (module level, so that it pickles)."""

    template = "user {user!r}: {used} of {limit} bytes used"


def test_a_template_declares_the_message_and_the_fields_in_order():
    by_position, by_name = Quota("ana", 7, 5), Quota(limit=5, used=7, user="ana")
    assert str(by_position) == str(by_name) == "user 'ana': 7 of 5 bytes used"
    assert (by_position.user, by_position.used, by_position.limit) == ("ana", 7, 5)
    assert list(inspect.signature(Quota).parameters) == ["user", "used", "limit"]
    with pytest.raises(TypeError, match="limit"):
        Quota("ana", 7)                         # a missing field fails like a missing argument
    with pytest.raises(TypeError):
        Quota("ana", 7, 5, unknown=1)
    back = pickle.loads(pickle.dumps(by_position))
    assert type(back) is Quota and back.limit == 5 and str(back) == str(by_position)
