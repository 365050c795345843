"""Settings an admin changes in the browser, kept in the database over the environment's defaults.

* ``store``: read and save the stored values (one transaction, validated first, audited);
* ``live``: every process's cached view of them, re-read when the revision changes;
* ``cadence``: journey cadences written as text, one step a line;
* ``public_text``: the per-centre words patients hear and read, checked and previewed.

The package's own import is empty on purpose: ``rmc_outreach.engine_config`` uses ``cadence``
and ``public_text``, and ``store`` uses ``engine_config``.
"""
