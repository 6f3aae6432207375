-- Recommendations (doc/recommendations.md): implicit feedback, the item-KNN
-- model on a hand-worked example, serving with its exclusions, incremental
-- builds, recall on planted pairs and the offline evaluation.

-- the tests before this one leave sessions, titles and users: set them aside
CREATE TEMP TABLE saved_sessions AS SELECT * FROM qoe.sessions;
CREATE TEMP TABLE saved_content AS SELECT * FROM qoe.content;
CREATE TEMP TABLE saved_users AS SELECT * FROM qoe.users;
DELETE FROM qoe.sessions;
DELETE FROM qoe.content;
DELETE FROM qoe.users;

-- a session row as the writer leaves it (only what the feedback reads varies)
CREATE FUNCTION test_session(id text, usr bigint, title bigint, country text, started boolean,
                             watch_ms bigint, max_pos real, completed boolean,
                             last_event timestamptz DEFAULT now()) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO qoe.sessions (session_id, user_id, content_id, country, started_at, first_frame_at,
        last_event_at, state, watch_ms, stall_count, stall_ms, seek_stall_count, seek_stall_ms,
        paused_ms, bitrate_switches, bitrate_downswitches, dropped_frames, max_position_sec,
        completed, ebvs, start_failed, playback_failed, error_count, event_count, fold_state)
    VALUES (id, usr, title, country, last_event - interval '1 hour',
        CASE WHEN started THEN last_event - interval '1 hour' END, last_event, 'ended', watch_ms,
        0, 0, 0, 0, 0, 0, 0, 0, max_pos, completed, NOT started, false, false, 0, 1, '\x')
$$;

-- 1. Implicit feedback: one session's strength
SELECT qoe.interaction_strength(0, NULL, 3600, false, false) AS no_first_frame,
       qoe.interaction_strength(3000000, 3500, 3600, true, true) AS completed,
       qoe.interaction_strength(1800000, 1000, 3600, true, false) AS half_by_watch_time,
       qoe.interaction_strength(600000, 2700, 3600, true, false) AS three_quarters_by_position,
       qoe.interaction_strength(30000, 30, 3600, true, false) AS sub_minute,
       qoe.interaction_strength(50000, 50, 60, true, false) AS sub_minute_short_title,
       qoe.interaction_strength(900000, NULL, NULL, true, false) AS unknown_duration;

INSERT INTO qoe.content (content_id, title, duration_sec, available_countries) VALUES
    (10, 'ten', 3600, NULL), (20, 'twenty', 3600, NULL), (30, 'thirty', 3600, '{US}'),
    (40, 'forty', 3600, NULL);
-- user 1 completed 10 (and had an earlier partial play of it), clicked 20
-- without a first frame and played 30 for half a minute
SELECT test_session('r-1', 1, 10, NULL, true, 1800000, 1800, false, now() - interval '2 days'),
       test_session('r-2', 1, 10, NULL, true, 3500000, 3590, true, now() - interval '1 day'),
       test_session('r-3', 1, 20, NULL, false, 0, NULL, false, now() - interval '2 days'),
       test_session('r-4', 1, 30, NULL, true, 30000, 30, false, now() - interval '2 days'),
       test_session('r-5', 2, 10, 'US', true, 600000, 600, false, now() - interval '3 days');
SELECT qoe.refresh_interactions() AS written;
-- 10: 0.5 + 2; 20: 0.1; 30: max(0.5 x 30/3600, 0.1)
SELECT user_id, content_id, strength FROM qoe.interactions ORDER BY 1, 2;
-- a later event on one session: only that user and title are rewritten
UPDATE qoe.sessions SET watch_ms = 1200000, max_position_sec = 1200, last_event_at = now()
 WHERE session_id = 'r-5';
SELECT qoe.refresh_interactions(now() - interval '1 hour') AS written;
SELECT user_id, content_id, strength FROM qoe.interactions ORDER BY 1, 2;
SELECT qoe.refresh_interactions(now() - interval '1 hour') AS written_again;

-- 2. The model on a hand-worked example: titles as vectors over users 1..4
--   10: (1, 1, 0, 0)  |10| = sqrt 2
--   20: (1, 2, 1, 0)  |20| = sqrt 6
--   30: (0, 1, 1, 2)  |30| = sqrt 6
--   40: (0, 0, 0, 1)  |40| = 1
-- cosine with shrink 1, no weighting: sim(i, j) = i.j / (|i| |j| + 1)
--   sim(10,20) = 3 / (sqrt 12 + 1) = 0.672028
--   sim(10,30) = 1 / (sqrt 12 + 1) = 0.224009
--   sim(20,30) = 3 / (6 + 1)       = 0.428571
--   sim(30,40) = 2 / (sqrt 6 + 1)  = 0.579796
--   sim(10,40) = sim(20,40) = 0
-- top 2 per title: 10 -> 20, 30; 20 -> 10, 30; 30 -> 40, 20 (10 cut); 40 -> 30
TRUNCATE qoe.interactions;
INSERT INTO qoe.interactions (user_id, content_id, strength, last_at) VALUES
    (1, 10, 1, now()), (1, 20, 1, now()),
    (2, 10, 1, now()), (2, 20, 2, now()), (2, 30, 1, now()),
    (3, 20, 1, now()), (3, 30, 1, now()),
    (4, 30, 2, now()), (4, 40, 1, now());
UPDATE qoe.recommendation_settings SET weighting = 'none', shrink = 1, top_k = 2;
SELECT mode, titles, titles_computed, neighbors FROM qoe.build_recommendations();
SELECT content_id, neighbor_id, round(similarity::numeric, 6) AS similarity
  FROM qoe.item_neighbors ORDER BY 1, similarity DESC;
SELECT mode, users, titles, interactions, titles_computed, neighbors, memory_bytes > 0 AS measured,
       top_k, shrink, weighting FROM qoe.recommendation_status;
-- TF-IDF: user weights ln(1 + 4 titles / n_u): ln 3 for users 1, 3, 4 (2 titles),
-- ln(7/3) for user 2 (3 titles)
--   10 = (ln 3, ln 7/3, 0, 0), 20 = (ln 3, 2 ln 7/3, ln 3, 0)
--   sim(10,20) = 2.642776 / (1.387394 x 2.299033 + 1) = 0.630785
UPDATE qoe.recommendation_settings SET weighting = 'tfidf';
SELECT mode FROM qoe.build_recommendations();
SELECT round(similarity::numeric, 5) AS tfidf_10_20 FROM qoe.item_neighbors
 WHERE content_id = 10 AND neighbor_id = 20;
UPDATE qoe.recommendation_settings SET weighting = 'bm25';
SELECT mode, neighbors FROM qoe.build_recommendations();
-- time decay, half-life 1 day: two users watched 50 and 60 (the newest
-- interaction is t0); user 7 watched 50 a day before t0, so it weighs 1/2
--   50 = (1, 0.5), 60 = (1, 1), shrink 0, no weighting:
--   sim(50,60) = (1 + 0.5) / (sqrt(1.25) sqrt 2) = 0.948683 (1 without decay)
CREATE TEMP TABLE hand AS SELECT * FROM qoe.interactions;
TRUNCATE qoe.interactions;
INSERT INTO qoe.interactions VALUES (6, 50, 1, '2026-01-10 12:00+00'), (6, 60, 1, '2026-01-10 12:00+00'),
    (7, 50, 1, '2026-01-09 12:00+00'), (7, 60, 1, '2026-01-10 12:00+00');
UPDATE qoe.recommendation_settings SET weighting = 'none', shrink = 0, half_life = '1 day';
SELECT mode FROM qoe.build_recommendations();
SELECT content_id, neighbor_id, round(similarity::numeric, 6) AS similarity FROM qoe.item_neighbors ORDER BY 1;
SELECT half_life = '1 day' AS decay_recorded FROM qoe.recommendation_status;
-- decay moves every weight: never incremental; nor just after it is turned off
SELECT mode FROM qoe.build_recommendations(now() - interval '1 minute');
UPDATE qoe.recommendation_settings SET half_life = NULL;
SELECT mode FROM qoe.build_recommendations(now() - interval '1 minute');
SELECT round(similarity::numeric, 6) AS without_decay FROM qoe.item_neighbors WHERE content_id = 50;
SELECT mode FROM qoe.build_recommendations(now() - interval '1 minute');
UPDATE qoe.recommendation_settings SET half_life = '0 days';
TRUNCATE qoe.interactions;
INSERT INTO qoe.interactions SELECT * FROM hand;
UPDATE qoe.recommendation_settings SET weighting = 'none', shrink = 1;
SELECT mode FROM qoe.build_recommendations();

-- 3. Serving. similar_content reads the lists.
SELECT * FROM qoe.similar_content(30);
SELECT neighbor_id FROM qoe.similar_content(10, 1);
SELECT count(*) FROM qoe.similar_content(12345);
-- user 2 (no qoe.users row; latest session in US) watched 10, 20, 30: only
-- 40 lists one of them (30): 1 x 0.579796
SELECT content_id, round(score::numeric, 6) AS score, reason FROM qoe.recommend(2);
-- user 1 (10, 20; no country known: no filter): 30 lists 20: 1 x 0.428571; then
-- trending titles fill up, score 0
SELECT content_id, round(score::numeric, 6) AS score, reason FROM qoe.recommend(1);
SELECT content_id FROM qoe.recommend(1, 1);
SELECT count(*) FROM qoe.recommend(1, 0);
-- user 1's sessions are in BR; 30 is only available in US
UPDATE qoe.sessions SET country = 'BR' WHERE user_id = 1;
SELECT content_id, round(score::numeric, 6) AS score, reason FROM qoe.recommend(1);
-- qoe.users wins over the sessions
INSERT INTO qoe.users (user_id, country) VALUES (1, 'US');
SELECT content_id, round(score::numeric, 6) AS score, reason FROM qoe.recommend(1);
-- exclude = completed: of user 1's titles only 10 has a completed session,
-- so 20 comes back (it lists 10: 1 x 0.672028), and 30 after it
UPDATE qoe.recommendation_settings SET exclude = 'completed';
SELECT content_id, round(score::numeric, 6) AS score, reason FROM qoe.recommend(1);
UPDATE qoe.recommendation_settings SET exclude = 'any';
-- several titles behind one score, the largest contribution first: user 5
-- watched 10 (strength 1) and 30 (strength 3); 20 lists both
INSERT INTO qoe.interactions VALUES (5, 10, 1, now() - interval '1 year'), (5, 30, 3, now() - interval '1 year');
SELECT content_id, round(score::numeric, 6) AS score, reason FROM qoe.recommend(5, 1);
-- a cold user gets the trending titles: viewers in the window (user 5 is too old)
SELECT * FROM qoe.trending();
SELECT content_id, score, reason FROM qoe.recommend(99);
-- ... of the user's country
INSERT INTO qoe.users (user_id, country) VALUES (99, 'BR');
SELECT content_id, score, reason FROM qoe.recommend(99, 3);
SELECT * FROM qoe.trending(2, 'US', '1 hour');
SELECT count(*) FROM qoe.trending(10, NULL, '1 year');
SELECT * FROM qoe.recommend(1, -1);
SELECT * FROM qoe.recommend(1, 100000);
SELECT * FROM qoe.recommend(NULL);
-- diversification (maximal marginal relevance over genres), by hand: user 77
-- watched 100 (strength 1), listed by 101..104 with similarities 0.9, 0.8,
-- 0.6, 0.5; genres 101 {drama}, 102 {drama}, 103 {comedy}, 104 {drama, comedy}.
-- value = (1 - d) score / 0.9 - d x max Jaccard to the titles chosen; d = 0.5:
--   1st: 101 (0.5, nothing chosen yet)
--   2nd: 102: 0.444 - 0.5 x 1 = -0.056; 103: 0.333 - 0 = 0.333; 104: 0.278 - 0.5 x 0.5 = 0.028
--   3rd: 102: -0.056; 104: 0.028 (Jaccard to 103 also 0.5)
-- so 101, 103, 104 against the plain 101, 102, 103; d = 0.1 keeps the plain order
-- (104 lists drama twice: a genre counts once)
INSERT INTO qoe.content (content_id, title, genres) VALUES (100, 'a', '{}'),
    (101, 'b', '{drama}'), (102, 'c', '{drama}'), (103, 'd', '{comedy}'), (104, 'e', '{drama,comedy,drama}');
INSERT INTO qoe.interactions VALUES (77, 100, 1, now() - interval '1 year');
INSERT INTO qoe.item_neighbors VALUES (101, 100, 0.9), (102, 100, 0.8), (103, 100, 0.6), (104, 100, 0.5);
SELECT content_id, score, reason FROM qoe.recommend(77, 3);
SELECT content_id, score, reason FROM qoe.recommend(77, 3, 0);
SELECT content_id, score, reason FROM qoe.recommend(77, 3, 0.5);
SELECT content_id FROM qoe.recommend(77, 3, 0.1);
SELECT content_id FROM qoe.recommend(77, 3, 1);
SELECT content_id FROM qoe.recommend(77, 1, 0.5);
SELECT * FROM qoe.recommend(77, 3, 1.5);
SELECT * FROM qoe.recommend(77, 3, 'NaN');
DELETE FROM qoe.item_neighbors WHERE neighbor_id = 100;
DELETE FROM qoe.interactions WHERE user_id = 77;
DELETE FROM qoe.content WHERE content_id BETWEEN 100 AND 104;

-- 4. Incremental update equals a rebuild: 400 users over 400 titles in
-- taste groups, then new interactions of a few users (new and old ones, on
-- old titles), with TF-IDF and without weighting
TRUNCATE qoe.interactions;
UPDATE qoe.recommendation_settings SET weighting = 'tfidf', shrink = 10, top_k = 5;
SELECT setseed(0.15);
INSERT INTO qoe.interactions
SELECT u, t, 1 + floor(random() * 3), now() - interval '10 days'
  FROM generate_series(1, 400) u, generate_series(1, 400) t
 WHERE random() < CASE WHEN t % 8 = u % 8 THEN 0.1 ELSE 0.005 END;
CREATE FUNCTION incremental_equals_rebuild(changes text) RETURNS TABLE (
        mode text, titles_computed integer, only_incremental bigint, only_rebuild bigint,
        model_changed boolean)
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM qoe.build_recommendations();
    CREATE TEMP TABLE before AS SELECT * FROM qoe.item_neighbors;
    EXECUTE changes;
    SELECT b.mode, b.titles_computed INTO mode, titles_computed
      FROM qoe.build_recommendations(now() - interval '1 minute') b;
    CREATE TEMP TABLE incremental AS SELECT * FROM qoe.item_neighbors;
    PERFORM qoe.build_recommendations();
    SELECT count(*) INTO only_incremental FROM (TABLE incremental EXCEPT TABLE qoe.item_neighbors) a;
    SELECT count(*) INTO only_rebuild FROM (TABLE qoe.item_neighbors EXCEPT TABLE incremental) b;
    SELECT count(*) > 0 INTO model_changed FROM (TABLE before EXCEPT TABLE qoe.item_neighbors) c;
    DROP TABLE before, incremental;
    RETURN NEXT;
END $$;
SELECT * FROM incremental_equals_rebuild($$
    INSERT INTO qoe.interactions
    SELECT u, t, 1 + floor(random() * 3), now()
      FROM generate_series(399, 402) u, generate_series(1, 400) t
     WHERE random() < CASE WHEN t % 8 = u % 8 THEN 0.02 ELSE 0.002 END
    ON CONFLICT (user_id, content_id) DO UPDATE SET strength = excluded.strength + 1, last_at = now()$$);
-- a stronger interaction only: with TF-IDF still all of the viewer's titles
SELECT * FROM incremental_equals_rebuild($$
    UPDATE qoe.interactions SET strength = strength + 2, last_at = now()
     WHERE (user_id, content_id) = (SELECT user_id, content_id FROM qoe.interactions ORDER BY 1, 2 LIMIT 1)$$);
UPDATE qoe.recommendation_settings SET weighting = 'none';
SELECT * FROM incremental_equals_rebuild($$
    UPDATE qoe.interactions SET strength = strength + 1, last_at = now() WHERE user_id IN (17, 400)$$);
SELECT * FROM incremental_equals_rebuild($$
    UPDATE qoe.interactions SET strength = 0.5, last_at = now() WHERE user_id = 5$$);
UPDATE qoe.recommendation_settings SET weighting = 'tfidf';
SELECT mode FROM qoe.build_recommendations();
-- nothing new: nothing computed
SELECT mode, titles_computed FROM qoe.build_recommendations(now() + interval '1 minute');
-- most titles affected: a full build (the same, and no dearer)
UPDATE qoe.interactions SET strength = strength + 1, last_at = now() WHERE user_id % 3 = 0;
SELECT mode, titles_computed FROM qoe.build_recommendations(now() - interval '1 minute');
-- a new title changes every viewer weight: a full build, and why
INSERT INTO qoe.interactions VALUES (1, 1000, 1, now());
SELECT mode, titles, titles_computed FROM qoe.build_recommendations(now() - interval '1 minute');
-- settings changed since the last build: a full build
UPDATE qoe.recommendation_settings SET top_k = 6;
SELECT mode FROM qoe.build_recommendations(now() - interval '1 minute');

DROP FUNCTION incremental_equals_rebuild;

-- 5. Planted pairs: 40 pairs (2p - 1, 2p) watched together by 15 users each,
-- over background noise; similar_content finds each title's twin
TRUNCATE qoe.interactions;
UPDATE qoe.recommendation_settings SET weighting = 'tfidf', shrink = 100, top_k = 50;
SELECT setseed(0.5);
INSERT INTO qoe.interactions
SELECT 1000 * p + v, t, 1, now()
  FROM generate_series(1, 40) p, generate_series(1, 15) v, LATERAL (VALUES (2 * p - 1), (2 * p)) x(t);
INSERT INTO qoe.interactions
SELECT u, 1 + floor(random() * 80), 1, now()
  FROM generate_series(1, 600) u, generate_series(1, 4)
ON CONFLICT DO NOTHING;
SELECT mode, titles FROM qoe.build_recommendations();
SELECT count(*) FILTER (WHERE s.neighbor_id = t + CASE WHEN t % 2 = 1 THEN 1 ELSE -1 END) / 80.0 AS recall_at_1
  FROM generate_series(1, 80) t, LATERAL qoe.similar_content(t, 1) s;

-- 6. Evaluation: tastes planted (each user watches mostly one of 5 title
-- groups), item-KNN well ahead of most-popular
TRUNCATE qoe.interactions;
SELECT setseed(0.25);
INSERT INTO qoe.interactions
SELECT u, t, 1, now() - (random() * 100) * interval '1 day'
  FROM generate_series(1, 400) u, generate_series(1, 200) t
 WHERE random() < CASE WHEN t % 5 = u % 5 THEN 0.15 ELSE 0.01 END * (1.5 - t / 200.0);
SELECT model, round(hr::numeric, 3) AS hr, round(ndcg::numeric, 3) AS ndcg, users
  FROM qoe.evaluate_recommendations();
SELECT (SELECT hr FROM qoe.evaluate_recommendations() WHERE model = 'item_knn')
     >= 1.3 * (SELECT hr FROM qoe.evaluate_recommendations() WHERE model = 'most_popular') AS knn_beats_popular_by_30pct;
-- reproducible for a seed; another seed draws other negatives
SELECT count(DISTINCT (model, hr, ndcg)) AS distinct_results
  FROM (SELECT * FROM qoe.evaluate_recommendations(10, 100, 7)
        UNION ALL SELECT * FROM qoe.evaluate_recommendations(10, 100, 7)) r;
SELECT (SELECT array_agg(hr ORDER BY model) FROM qoe.evaluate_recommendations(10, 100, 7))
    <> (SELECT array_agg(hr ORDER BY model) FROM qoe.evaluate_recommendations(10, 100, 8)) AS seed_matters;
-- against all titles, HR@10 is lower
SELECT model, round(hr::numeric, 3) AS hr, users FROM qoe.evaluate_recommendations(10, 0);
SELECT * FROM qoe.evaluate_recommendations(0);
SELECT * FROM qoe.evaluate_recommendations(10, -1);
-- nothing to evaluate
TRUNCATE qoe.interactions;
SELECT * FROM qoe.evaluate_recommendations();
SELECT mode, titles, neighbors FROM qoe.build_recommendations();

-- 7. Who may do what: readers ask, qoe_admin loads, tunes and builds
CREATE ROLE rec_bi LOGIN;
CREATE ROLE rec_ops LOGIN;
GRANT qoe_reader TO rec_bi;
GRANT qoe_admin TO rec_ops;
SET ROLE rec_ops;
INSERT INTO qoe.interactions VALUES (1, 10, 1, now()), (1, 20, 1, now()), (2, 10, 1, now()), (2, 20, 1, now()),
    (2, 30, 1, now());
UPDATE qoe.recommendation_settings SET top_k = 3;
SELECT qoe.refresh_interactions(now()) >= 0 AS refreshed;
SELECT mode, neighbors FROM qoe.build_recommendations();
SELECT count(*) FROM qoe.evaluate_recommendations();
RESET ROLE;
SET ROLE rec_bi;
SELECT content_id, reason FROM qoe.recommend(1);
SELECT content_id, reason FROM qoe.recommend(1, 10, 0.5);
-- qoe.recommend reads the lists without the executor: it refuses what it
-- would bypass
RESET ROLE;
ALTER TABLE qoe.item_neighbors ENABLE ROW LEVEL SECURITY;
SET ROLE rec_bi;
SELECT content_id FROM qoe.recommend(1);
RESET ROLE;
ALTER TABLE qoe.item_neighbors DISABLE ROW LEVEL SECURITY;
SET ROLE rec_bi;
SELECT neighbor_id FROM qoe.similar_content(10);
SELECT count(*) >= 3 AS trending FROM qoe.trending();
SELECT count(*) FROM qoe.item_neighbors;
SELECT * FROM qoe.build_recommendations();
SELECT * FROM qoe.evaluate_recommendations();
SELECT qoe.refresh_interactions();
INSERT INTO qoe.interactions VALUES (3, 10, 1, now());
UPDATE qoe.recommendation_settings SET top_k = 1;
RESET ROLE;
DROP ROLE rec_bi, rec_ops;
TRUNCATE qoe.interactions, qoe.item_neighbors;

-- 8. search_path-proof: look-alikes first on the caller's search_path are
-- never called by any of the functions above
CREATE SCHEMA rec_evil;
CREATE TABLE rec_evil.marker (hook text);
CREATE FUNCTION rec_evil.hook(h text) RETURNS boolean LANGUAGE sql AS
    $$ INSERT INTO rec_evil.marker VALUES (h) RETURNING true $$;
CREATE FUNCTION rec_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
    $$ BEGIN PERFORM rec_evil.hook('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION rec_evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
    $$ BEGIN PERFORM rec_evil.hook('unnest'); RETURN QUERY SELECT * FROM pg_catalog.unnest($1); END $$;
CREATE FUNCTION rec_evil.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN PERFORM rec_evil.hook('= bigint'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR rec_evil.= (FUNCTION = rec_evil.int8_eq, LEFTARG = bigint, RIGHTARG = bigint);
CREATE FUNCTION rec_evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN PERFORM rec_evil.hook('= text'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR rec_evil.= (FUNCTION = rec_evil.text_eq, LEFTARG = text, RIGHTARG = text);
CREATE FUNCTION rec_evil.ts_ge(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN PERFORM rec_evil.hook('>= timestamptz'); RETURN $1 OPERATOR(pg_catalog.>=) $2; END $$;
CREATE OPERATOR rec_evil.>= (FUNCTION = rec_evil.ts_ge, LEFTARG = timestamptz, RIGHTARG = timestamptz);
CREATE FUNCTION rec_evil.ts_mi(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS
    $$ BEGIN PERFORM rec_evil.hook('- interval'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
CREATE OPERATOR rec_evil.- (FUNCTION = rec_evil.ts_mi, LEFTARG = timestamptz, RIGHTARG = interval);
CREATE FUNCTION rec_evil.f8_mul(float8, float8) RETURNS float8 LANGUAGE plpgsql AS
    $$ BEGIN PERFORM rec_evil.hook('* float8'); RETURN $1 OPERATOR(pg_catalog.*) $2; END $$;
CREATE OPERATOR rec_evil.* (FUNCTION = rec_evil.f8_mul, LEFTARG = float8, RIGHTARG = float8);
INSERT INTO qoe.interactions VALUES (1, 10, 1, now()), (1, 20, 1, now()), (2, 10, 1, now()), (2, 20, 1, now()),
    (2, 30, 1, now());
SELECT test_session('r-9', 2, 30, 'US', true, 600000, 600, true);
SET search_path = rec_evil, public, pg_catalog;
SELECT qoe.refresh_interactions(pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 hour') IS NOT NULL AS refreshed;
SELECT qoe.interaction_strength(600000, 600, 3600, true, false) IS NOT NULL AS strength;
SELECT mode FROM qoe.build_recommendations();
SELECT mode FROM qoe.build_recommendations(pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 hour');
SELECT count(*) > 0 AS recommended FROM qoe.recommend(1);
SELECT count(*) > 0 AS diversified FROM qoe.recommend(1, 10, 0.5);
SELECT count(*) > 0 AS trending_for_cold FROM qoe.recommend(12345);
UPDATE qoe.recommendation_settings SET exclude = 'completed';
SELECT count(*) >= 0 AS recommended FROM qoe.recommend(2);
SELECT count(*) > 0 AS similar FROM qoe.similar_content(10);
SELECT count(*) > 0 AS trending FROM qoe.trending(5, 'US');
SELECT count(*) FROM qoe.evaluate_recommendations();
RESET search_path;
SELECT * FROM rec_evil.marker;
DROP SCHEMA rec_evil CASCADE;
TRUNCATE qoe.interactions, qoe.item_neighbors;

-- 9. The settings row survives pg_dump: restoring inserts the saved row after
-- CREATE EXTENSION inserted the defaults, and an inserted row replaces the old
INSERT INTO qoe.recommendation_settings (top_k, exclude) VALUES (7, 'completed');
SELECT count(*), min(top_k) AS top_k, min(exclude) AS exclude FROM qoe.recommendation_settings;
INSERT INTO qoe.recommendation_settings DEFAULT VALUES;
SELECT count(*), min(top_k) AS top_k, min(exclude) AS exclude FROM qoe.recommendation_settings;

-- 10. Cleaning up
UPDATE qoe.recommendation_settings SET (top_k, shrink, weighting, exclude) = (DEFAULT, DEFAULT, DEFAULT, DEFAULT);
DELETE FROM qoe.recommendation_status;
DELETE FROM qoe.sessions;
DELETE FROM qoe.users;
DELETE FROM qoe.content;
INSERT INTO qoe.sessions SELECT * FROM saved_sessions;
INSERT INTO qoe.content SELECT * FROM saved_content;
INSERT INTO qoe.users SELECT * FROM saved_users;
DROP FUNCTION test_session;
