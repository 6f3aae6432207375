-- Recommendations without ALS (doc/recommendations.md): implicit feedback
-- from sessions into qoe.interactions, an item-item cosine model with
-- shrinkage kept as the top-K neighbours of each title in qoe.item_neighbors
-- (built in C, src/recommend/), and serving from C.

CREATE TABLE interactions (
    user_id    bigint NOT NULL,
    content_id bigint NOT NULL,
    strength   float8 NOT NULL CHECK (strength > 0 AND strength < 'Infinity'::float8),
    last_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, content_id)
);
-- trending counts viewers in a window from this index alone
CREATE INDEX interactions_last_at_idx ON interactions (last_at) INCLUDE (content_id);
COMMENT ON TABLE interactions IS 'Implicit feedback: one row per user and title, from qoe.refresh_interactions() or loaded by an administrator (doc/recommendations.md)';
COMMENT ON COLUMN interactions.user_id IS 'the viewer';
COMMENT ON COLUMN interactions.content_id IS 'the title';
COMMENT ON COLUMN interactions.strength IS 'sum over the user''s sessions of the title of qoe.interaction_strength(), capped at 5';
COMMENT ON COLUMN interactions.last_at IS 'latest activity on the title (the sessions'' last event); incremental builds pick up rows with last_at >= since';
COMMENT ON CONSTRAINT interactions_pkey ON interactions IS 'One row per user and title';
COMMENT ON CONSTRAINT interactions_strength_check ON interactions IS 'A strength is positive and finite';
COMMENT ON INDEX interactions_last_at_idx IS 'Interactions by last activity, with the title: trending and incremental builds read it alone';

CREATE TABLE item_neighbors (
    content_id  bigint NOT NULL,
    neighbor_id bigint NOT NULL,
    similarity  float8 NOT NULL,
    PRIMARY KEY (content_id, neighbor_id)
);
-- serving walks from the titles a user watched to the titles that list them
CREATE INDEX item_neighbors_neighbor_idx ON item_neighbors (neighbor_id) INCLUDE (content_id, similarity);
COMMENT ON TABLE item_neighbors IS 'The item-KNN model: for each title, its top-K most similar titles (cosine with shrinkage), written by qoe.build_recommendations()';
COMMENT ON COLUMN item_neighbors.content_id IS 'the title';
COMMENT ON COLUMN item_neighbors.neighbor_id IS 'one of its top-K most similar titles';
COMMENT ON COLUMN item_neighbors.similarity IS 'dot(i, j) / (|i| |j| + shrink) over the weighted user vectors of the two titles';
COMMENT ON CONSTRAINT item_neighbors_pkey ON item_neighbors IS 'One row per title and neighbour';
COMMENT ON INDEX item_neighbors_neighbor_idx IS 'The titles that list a title as a neighbour, with the similarity: serving reads it alone';

CREATE TABLE recommendation_settings (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    top_k       integer NOT NULL DEFAULT 50 CHECK (top_k BETWEEN 1 AND 1000),
    shrink      float8  NOT NULL DEFAULT 100 CHECK (shrink >= 0 AND shrink < 'Infinity'::float8),
    weighting   text    NOT NULL DEFAULT 'tfidf' CHECK (weighting IN ('none', 'tfidf', 'bm25')),
    bm25_k1     float8  NOT NULL DEFAULT 1.2 CHECK (bm25_k1 >= 0 AND bm25_k1 < 'Infinity'::float8),
    bm25_b      float8  NOT NULL DEFAULT 0.75 CHECK (bm25_b BETWEEN 0 AND 1),
    half_life   interval CHECK (half_life > '0'::interval),
    exclude     text    NOT NULL DEFAULT 'any' CHECK (exclude IN ('any', 'completed')),
    trending_window interval NOT NULL DEFAULT '1 day' CHECK (trending_window > '0'::interval)
);
-- a restored row replaces the defaults (qoe.replace_row, 55_qoe_score.sql)
CREATE TRIGGER replace_row BEFORE INSERT ON recommendation_settings
    FOR EACH ROW EXECUTE FUNCTION replace_row('id');
COMMENT ON TRIGGER replace_row ON recommendation_settings IS
    'An inserted row replaces the one there (DEFAULT VALUES resets the settings; restoring a dump keeps the tuned row)';
INSERT INTO recommendation_settings DEFAULT VALUES;
COMMENT ON TABLE recommendation_settings IS 'The one row of recommendation parameters (defaults and meaning: doc/recommendations.md)';
COMMENT ON COLUMN recommendation_settings.id IS 'always true: the table holds one row';
COMMENT ON COLUMN recommendation_settings.top_k IS 'neighbours kept per title';
COMMENT ON COLUMN recommendation_settings.shrink IS 'added to the cosine denominator: pulls similarities resting on few common viewers towards 0';
COMMENT ON COLUMN recommendation_settings.weighting IS 'viewer weighting before the cosine: none, tfidf (ln(1 + titles / viewer''s titles)) or bm25';
COMMENT ON COLUMN recommendation_settings.bm25_k1 IS 'BM25 saturation of the interaction strength';
COMMENT ON COLUMN recommendation_settings.bm25_b IS 'BM25 normalisation by the viewer''s number of titles (0 none, 1 full)';
COMMENT ON COLUMN recommendation_settings.half_life IS 'time decay: an interaction weighs half as much per half_life it is older than the newest interaction; NULL: no decay';
COMMENT ON COLUMN recommendation_settings.exclude IS 'titles qoe.recommend leaves out: any the user interacted with, or only those with a completed session';
COMMENT ON COLUMN recommendation_settings.trending_window IS 'how far back qoe.recommend looks for trending titles for a user without history';
COMMENT ON CONSTRAINT recommendation_settings_pkey ON recommendation_settings IS 'Key of the single row';
COMMENT ON CONSTRAINT recommendation_settings_id_check ON recommendation_settings IS 'id is always true, so the table holds at most one row';
COMMENT ON CONSTRAINT recommendation_settings_top_k_check ON recommendation_settings IS 'top_k from 1 to 1000';
COMMENT ON CONSTRAINT recommendation_settings_shrink_check ON recommendation_settings IS 'shrink is at least 0 and finite';
COMMENT ON CONSTRAINT recommendation_settings_weighting_check ON recommendation_settings IS 'weighting is none, tfidf or bm25';
COMMENT ON CONSTRAINT recommendation_settings_bm25_k1_check ON recommendation_settings IS 'bm25_k1 is at least 0 and finite';
COMMENT ON CONSTRAINT recommendation_settings_bm25_b_check ON recommendation_settings IS 'bm25_b from 0 to 1';
COMMENT ON CONSTRAINT recommendation_settings_half_life_check ON recommendation_settings IS 'half_life is positive (or NULL: no decay)';
COMMENT ON CONSTRAINT recommendation_settings_exclude_check ON recommendation_settings IS 'exclude is any or completed';
COMMENT ON CONSTRAINT recommendation_settings_trending_window_check ON recommendation_settings IS 'trending_window is positive';

CREATE TABLE recommendation_status (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    built_at     timestamptz NOT NULL,
    mode         text NOT NULL,
    users        integer NOT NULL,
    titles       integer NOT NULL,
    interactions bigint NOT NULL,
    titles_computed integer NOT NULL,
    neighbors    bigint NOT NULL,
    duration_ms  float8 NOT NULL,
    memory_bytes bigint NOT NULL,
    top_k        integer NOT NULL,
    shrink       float8 NOT NULL,
    weighting    text NOT NULL,
    bm25_k1      float8 NOT NULL,
    bm25_b       float8 NOT NULL,
    half_life    interval
);
COMMENT ON TABLE recommendation_status IS 'The last qoe.build_recommendations() run: what it saw, what it did, and the settings the model was built with';
COMMENT ON COLUMN recommendation_status.id IS 'always true: the table holds one row';
COMMENT ON COLUMN recommendation_status.built_at IS 'when the run ran (the start of its transaction)';
COMMENT ON COLUMN recommendation_status.mode IS 'full, or incremental (only the titles the new interactions can change were recomputed)';
COMMENT ON COLUMN recommendation_status.users IS 'distinct users in qoe.interactions';
COMMENT ON COLUMN recommendation_status.titles IS 'distinct titles in qoe.interactions';
COMMENT ON COLUMN recommendation_status.interactions IS 'qoe.interactions rows loaded';
COMMENT ON COLUMN recommendation_status.titles_computed IS 'titles whose neighbour lists were computed in this run';
COMMENT ON COLUMN recommendation_status.memory_bytes IS 'peak memory of the in-memory interaction matrix and work arrays';
COMMENT ON COLUMN recommendation_status.neighbors IS 'qoe.item_neighbors rows the run wrote';
COMMENT ON COLUMN recommendation_status.duration_ms IS 'how long the run took, ms';
COMMENT ON COLUMN recommendation_status.top_k IS 'qoe.recommendation_settings.top_k the model was built with';
COMMENT ON COLUMN recommendation_status.shrink IS 'qoe.recommendation_settings.shrink the model was built with';
COMMENT ON COLUMN recommendation_status.weighting IS 'qoe.recommendation_settings.weighting the model was built with';
COMMENT ON COLUMN recommendation_status.bm25_k1 IS 'qoe.recommendation_settings.bm25_k1 the model was built with';
COMMENT ON COLUMN recommendation_status.bm25_b IS 'qoe.recommendation_settings.bm25_b the model was built with';
COMMENT ON COLUMN recommendation_status.half_life IS 'qoe.recommendation_settings.half_life the model was built with (NULL: no decay)';
COMMENT ON CONSTRAINT recommendation_status_pkey ON recommendation_status IS 'Key of the single row';
COMMENT ON CONSTRAINT recommendation_status_id_check ON recommendation_status IS 'id is always true, so the table holds at most one row';

CREATE FUNCTION interaction_strength(watch_ms bigint, max_position_sec real,
                                     duration_sec real, started boolean, completed boolean)
    RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE
        WHEN NOT started THEN 0.1
        WHEN completed THEN 2.0
        ELSE greatest(
            -- a sub-minute play counts half, and never less than a click
            CASE WHEN coalesce(watch_ms, 0) < 60000 THEN 0.5 ELSE 1.0 END
            * least(1.0, CASE WHEN duration_sec > 0
                              THEN greatest(coalesce(max_position_sec, 0), coalesce(watch_ms, 0) / 1000.0) / duration_sec
                              ELSE coalesce(watch_ms, 0) / 1000.0 / 1800.0 END),
            0.1)
        END::float8
    $$;
COMMENT ON FUNCTION interaction_strength(bigint, real, real, boolean, boolean) IS
    'Implicit feedback of one session: 0.1 without a first frame, 2 when completed, else the watch ratio (furthest position or watch time over the duration, capped at 1; 30 min stands for an unknown duration), halved under a minute of watching, at least 0.1';

CREATE FUNCTION refresh_interactions(since timestamptz DEFAULT NULL)
    RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH touched AS (
        SELECT DISTINCT user_id, content_id FROM qoe.sessions
         WHERE since IS NULL OR last_event_at OPERATOR(pg_catalog.>=) since
    ), scored AS (
        SELECT s.user_id, s.content_id,
               least(5.0, sum(qoe.interaction_strength(
                   s.watch_ms, s.max_position_sec,
                   coalesce(s.content_duration_sec, c.duration_sec),
                   s.first_frame_at IS NOT NULL, s.completed))) AS strength,
               max(s.last_event_at) AS last_at
          FROM touched t
          JOIN qoe.sessions s ON s.user_id OPERATOR(pg_catalog.=) t.user_id
                             AND s.content_id OPERATOR(pg_catalog.=) t.content_id
          LEFT JOIN qoe.content c ON c.content_id OPERATOR(pg_catalog.=) s.content_id
         GROUP BY s.user_id, s.content_id
    ), written AS (
        INSERT INTO qoe.interactions AS i (user_id, content_id, strength, last_at)
        SELECT user_id, content_id, strength, last_at FROM scored
        ON CONFLICT (user_id, content_id) DO UPDATE
           SET strength = excluded.strength, last_at = excluded.last_at
         WHERE (i.strength, i.last_at) IS DISTINCT FROM (excluded.strength, excluded.last_at)
        RETURNING 1
    )
    SELECT count(*) FROM written
    $$;
COMMENT ON FUNCTION refresh_interactions(timestamptz) IS
    'Recompute qoe.interactions for every user and title with a session whose last event is at or after since (NULL: all sessions); returns the rows written';

CREATE FUNCTION build_recommendations(since timestamptz DEFAULT NULL)
    RETURNS TABLE (mode text, titles integer, titles_computed integer, neighbors bigint,
                   duration_ms float8)
    AS 'MODULE_PATHNAME', 'qoe_build_recommendations'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION build_recommendations(timestamptz) IS
    'Build qoe.item_neighbors from qoe.interactions; with since, recompute only the titles that interactions with last_at >= since can change (the result equals a full build)';

CREATE TABLE recommendation_refresh (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    since     timestamptz,
    last_run  timestamptz,
    written   bigint,
    mode      text
);
INSERT INTO recommendation_refresh DEFAULT VALUES;
COMMENT ON TABLE recommendation_refresh IS 'Where qoe.refresh_recommendations() (the scheduler job refresh_recommendations) takes up next time, and what its last run did; not dumped: after a restore the next run starts over from all sessions';
COMMENT ON COLUMN recommendation_refresh.id IS 'always true: the table holds one row';
COMMENT ON COLUMN recommendation_refresh.last_run IS 'when the last run started';
COMMENT ON COLUMN recommendation_refresh.since IS 'the next run refreshes sessions and builds from interactions with a last event at or after this: the start of the last run less a minute (for events stamped a little before they were committed); NULL: everything';
COMMENT ON COLUMN recommendation_refresh.written IS 'qoe.interactions rows the last run wrote';
COMMENT ON COLUMN recommendation_refresh.mode IS 'the model update of the last run: full, incremental, or none (nothing new)';
COMMENT ON CONSTRAINT recommendation_refresh_pkey ON recommendation_refresh IS 'Key of the single row';
COMMENT ON CONSTRAINT recommendation_refresh_id_check ON recommendation_refresh IS 'id is always true, so the table holds at most one row';

-- the scheduler's job: the interactions and then the model, from where the
-- previous run left off; one run at a time (the row lock)
CREATE FUNCTION refresh_recommendations()
    RETURNS TABLE (written bigint, mode text, titles_computed integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    from_time timestamptz;
BEGIN
    SELECT r.since INTO from_time FROM qoe.recommendation_refresh r FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'qoe.recommendation_refresh has no row'
            USING ERRCODE = 'no_data_found',
                  HINT = 'INSERT INTO qoe.recommendation_refresh DEFAULT VALUES starts over from all sessions.';
    END IF;
    written := qoe.refresh_interactions(from_time);
    mode := 'none';
    titles_computed := 0;
    -- the build loads every interaction: only when there is something new
    -- (or no model yet); it falls back to a full build by itself
    IF from_time IS NULL
       OR NOT EXISTS (SELECT FROM qoe.recommendation_status)
       OR EXISTS (SELECT FROM qoe.interactions i WHERE i.last_at OPERATOR(pg_catalog.>=) from_time) THEN
        SELECT b.mode, b.titles_computed INTO mode, titles_computed
          FROM qoe.build_recommendations(from_time) b;
    END IF;
    UPDATE qoe.recommendation_refresh r
       SET since = pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 minute',
           last_run = pg_catalog.now(), written = refresh_recommendations.written,
           mode = refresh_recommendations.mode;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION refresh_recommendations() IS
    'qoe.refresh_interactions(since) then qoe.build_recommendations(since), since the previous run (qoe.recommendation_refresh); run by the scheduler every qoe.recommendations_refresh_interval';
REVOKE EXECUTE ON FUNCTION refresh_recommendations() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_recommendations() TO qoe_admin, qoe_worker;
GRANT SELECT ON recommendation_refresh TO qoe_reader;
GRANT UPDATE ON recommendation_refresh TO qoe_admin;

CREATE FUNCTION trending(n integer DEFAULT 10, country text DEFAULT NULL,
                         since interval DEFAULT '1 day')
    RETURNS TABLE (content_id bigint, viewers bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT i.content_id, count(*) AS viewers
      FROM qoe.interactions i
      LEFT JOIN qoe.content c ON c.content_id OPERATOR(pg_catalog.=) i.content_id
     WHERE i.last_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) since)
       AND (country IS NULL OR c.available_countries IS NULL
            OR country OPERATOR(pg_catalog.=) ANY (c.available_countries))
     GROUP BY i.content_id
     ORDER BY viewers DESC, i.content_id
     LIMIT n
    $$;
COMMENT ON FUNCTION trending(integer, text, interval) IS
    'The n titles with the most viewers (qoe.interactions active) within since, available in country (NULL: anywhere)';

CREATE FUNCTION similar_content(content_id bigint, n integer DEFAULT 10)
    RETURNS TABLE (neighbor_id bigint, similarity float8)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT m.neighbor_id, m.similarity FROM qoe.item_neighbors m
     WHERE m.content_id OPERATOR(pg_catalog.=) similar_content.content_id
     ORDER BY m.similarity DESC, m.neighbor_id
     LIMIT n
    $$;
COMMENT ON FUNCTION similar_content(bigint, integer) IS
    'The n titles most similar to a title, from the model in qoe.item_neighbors';

CREATE FUNCTION recommend(user_id bigint, n integer DEFAULT 10)
    RETURNS TABLE (content_id bigint, score float8, reason bigint[])
    AS 'MODULE_PATHNAME', 'qoe_recommend'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION recommend(bigint, integer) IS
    'The n best titles for a user: sum over the user''s titles of strength x similarity, without watched titles or titles unavailable in the user''s country; reason lists the user''s titles contributing most; a user without history gets qoe.trending()';
-- the same, diversified; a separate function so that the two-argument form
-- above keeps its meaning and its grants
CREATE FUNCTION recommend(user_id bigint, n integer, diversity float8)
    RETURNS TABLE (content_id bigint, score float8, reason bigint[])
    AS 'MODULE_PATHNAME', 'qoe_recommend'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION recommend(bigint, integer, float8) IS
    'qoe.recommend(user_id, n) with the best candidates reordered by maximal marginal relevance over genres: each next title maximises (1 - diversity) x score / best score - diversity x its largest genre Jaccard similarity to the titles before it (0: the plain ranking)';
REVOKE EXECUTE ON FUNCTION recommend(bigint, integer, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recommend(bigint, integer, float8) TO qoe_reader;

CREATE FUNCTION evaluate_recommendations(k integer DEFAULT 10, negatives integer DEFAULT 100,
                                         seed integer DEFAULT 0)
    RETURNS TABLE (model text, hr float8, ndcg float8, users integer)
    AS 'MODULE_PATHNAME', 'qoe_evaluate_recommendations'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION evaluate_recommendations(integer, integer, integer) IS
    'Leave-one-out HR@k and NDCG@k of item_knn and most_popular: each user''s latest interaction held out, ranked among negatives sampled unseen titles (0: all titles), seeded';

SELECT pg_catalog.pg_extension_config_dump('interactions', '');
SELECT pg_catalog.pg_extension_config_dump('item_neighbors', '');
SELECT pg_catalog.pg_extension_config_dump('recommendation_settings', '');
SELECT pg_catalog.pg_extension_config_dump('recommendation_status', '');
