# docs/library.md snippets compiled and run as tests: being written (issue 15).
