-- Every enabled pair strategy's pairs in one table (macros/pairs/union_pair_strategies.sql finds them:
-- the strategies registered in var('pair_strategies'), one model each in pair_strategies/).
-- Weights are not applied yet: int_pairs_split samples training pairs by weight.
{{ union_pair_strategies() }}
