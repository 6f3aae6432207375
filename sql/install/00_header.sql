-- qoe_ext install script: streaming-video QoE analytics inside PostgreSQL.
\echo Use "CREATE EXTENSION qoe_ext" to load this file. \quit
