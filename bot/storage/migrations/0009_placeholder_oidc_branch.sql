-- 0009: PLACEHOLDER on branch oidc only, so that 0012 applies on this branch alone (migration numbers must be
-- consecutive). The real 0009 belongs to another branch: DROP THIS FILE AT MERGE.
SELECT 1;
