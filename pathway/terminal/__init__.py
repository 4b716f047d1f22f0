"""What the commands print in a terminal: rich renderables that fit the width they are given.

Wide terminals get tables; below ``STACK_BELOW`` columns every table becomes a list of records
(one block per row), so no id, timestamp or word is ever split or cut.
"""
