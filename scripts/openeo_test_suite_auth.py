"""pytest plugin for the openeo-test-suite's general (API compliance) tests: they log in with OIDC only;
sparkeo offers openEO basic authentication, so the bearer token comes from ``/credentials/basic`` with
``OPENEO_AUTH_BASIC_USERNAME``/``OPENEO_AUTH_BASIC_PASSWORD``. Used by scripts/openeo-test-suite.sh."""
import os

import openeo
import openeo_test_suite.lib.compliance_util as compliance_util


def _basic_token(pytestconfig):
    connection = openeo.connect(pytestconfig.getoption("--openeo-backend-url"))
    connection.authenticate_basic(os.environ["OPENEO_AUTH_BASIC_USERNAME"], os.environ["OPENEO_AUTH_BASIC_PASSWORD"])
    return connection.auth.bearer


compliance_util.get_access_token = _basic_token
