"""The accounts tests' helpers assert: pytest rewrites those asserts as it does a test's, so a
failing check shows its values."""

import pytest

pytest.register_assert_rewrite("tests.domain.accounts_csv")
