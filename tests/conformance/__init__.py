"""Conformance suite: every cell of Flux's cross-cloud matrix, proven token by token.

Each cell plans the default stack with signing keys the suite controls, mints the token the source
cluster would mint, and checks it the way the target cloud does, against what the plan declares.
The cloud-side logic (`verifiers`, `iam_policy`, `web`) is written from the clouds' documented
behaviour, independently of the production builders.
"""
