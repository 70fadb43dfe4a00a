"""The rule language: expressions (parse, check, render), rules, statuses and threshold shapes."""
