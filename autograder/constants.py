"""Settings the grader's modules share; importing this loads nothing (the command line's --help stays instant)."""

DEFAULT_SEED = 2016          # seed of the hidden checks' random inputs
TEST_CELL_PREFIX = "test_"   # grade id of an exercise's test cell: test_<exercise>
