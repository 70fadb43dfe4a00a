"""The condition language: parser, AST, type checker and reference interpreter (internal)."""
