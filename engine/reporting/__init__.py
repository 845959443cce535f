"""Reporting: the on-time rule, the step statistics, the report period, its formats and languages, defined once.

``ontime`` holds the rule (the report's definition, domain.md), as a Python predicate and as
SQLAlchemy expressions built from the same terms; ``steps`` the statistics of each task of a
procedure version (waiting and overdue now, working time, breach rate and its level) and the pieces
the bottleneck report shares (a step's working time, the 90th percentile, "overdue now");
``period`` the period and its months; ``labels`` the words of each language and how rates read;
``views`` the reporting views' SQL, derived from the rule. The CLI report, the API's reports, the
metrics collector and migration 0011 use them.
"""
