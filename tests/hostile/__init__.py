"""Hostile and broken inputs (issue 7): the corpus as code, and a runner that measures each case.

`cases.CASES` lists every case with its exact exit code and stderr line;
`runner.run_case` runs one in a subprocess of the real CLI; `files` writes the
hostile bytes at test time (no binary blobs are committed).
"""
