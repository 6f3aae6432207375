/*
 * redis_conn.c: the publisher's side of the wire to Redis. hiredis is used
 * in non-blocking mode and only as a protocol codec: commands are appended
 * to its output buffer, then qoe_redis_exchange writes and reads while
 * waiting on the socket and the latch together, with a deadline. hiredis
 * runs no threads and calls back into nothing here, and its errors are
 * returned as text, never thrown.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "publish/redis_conn.h"

void
qoe_redis_free_replies(int n, redisReply **replies)
{
	for (int i = 0; i < n; i++)
		if (replies[i] != NULL)
		{
			freeReplyObject(replies[i]);
			replies[i] = NULL;
		}
}

/*
 * Flush the appended commands and read n replies. A reply may be an error
 * reply: that is the caller's business. Returns false with err set when
 * the connection failed or Redis stayed silent for timeout_ms while a write
 * or a reply was due; the connection is then unusable. A signal ends the
 * wait through CHECK_FOR_INTERRUPTS (SIGTERM exits at once).
 */
bool
qoe_redis_exchange(redisContext *c, int n, redisReply **replies, int timeout_ms, char *err)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	int			written = 0;
	int			got = 0;

	memset(replies, 0, sizeof(redisReply *) * n);
	for (;;)
	{
		long		left;
		int			rc;

		if (!written && redisBufferWrite(c, &written) != REDIS_OK)
			break;
		while (got < n)
		{
			void	   *reply = NULL;

			if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
				goto failed;
			if (reply == NULL)
				break;
			replies[got++] = reply;
		}
		if (got == n && written)
			return true;

		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0)
		{
			snprintf(err, QOE_REDIS_ERRLEN, "no reply from Redis within %d ms", timeout_ms);
			qoe_redis_free_replies(got, replies);
			return false;
		}
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH |
							   WL_SOCKET_READABLE | (written ? 0 : WL_SOCKET_WRITEABLE),
							   c->fd, left, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
		{
			/* Redis is not silent: the deadline counts from here */
			deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
			if ((rc & WL_SOCKET_READABLE) && redisBufferRead(c) != REDIS_OK)
				break;
		}
	}
failed:
	snprintf(err, QOE_REDIS_ERRLEN, "%s", c->errstr[0] ? c->errstr : "connection to Redis failed");
	qoe_redis_free_replies(got, replies);
	return false;
}

/* An error reply, or a status that is not the expected one, as text. */
static bool
reply_ok(const redisReply *r, const char *what, char *err)
{
	if (r->type == REDIS_REPLY_STATUS)
		return true;
	snprintf(err, QOE_REDIS_ERRLEN, "%s failed: %s", what,
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	return false;
}

/*
 * Open a connection and authenticate; NULL with err set on failure. Host
 * names are resolved synchronously (an IP address or a Unix socket path
 * avoids that); everything after is bounded by timeout_ms.
 */
redisContext *
qoe_redis_connect(const char *host, int port, const char *user, const char *password,
				  int db, int timeout_ms, char *err)
{
	redisContext *c;
	redisReply *replies[3];
	const char *what[3];
	int			n = 0;
	bool		appended = true;
	bool		ok = true;

	c = host[0] == '/' ? redisConnectUnixNonBlock(host) : redisConnectNonBlock(host, port);
	if (c == NULL)
	{
		snprintf(err, QOE_REDIS_ERRLEN, "out of memory");
		return NULL;
	}
	if (c->err)
	{
		snprintf(err, QOE_REDIS_ERRLEN, "%s", c->errstr);
		redisFree(c);
		return NULL;
	}
	if (password[0] != '\0')
	{
		/* AUTH user password (Redis 6 ACL) or AUTH password */
		const char *argv[3] = {"AUTH", user, password};

		if (user[0] == '\0')
			argv[1] = password;
		appended &= redisAppendCommandArgv(c, user[0] ? 3 : 2, argv, NULL) == REDIS_OK;
		what[n++] = "AUTH";
	}
	if (db != 0)
	{
		char		dbtext[16];
		const char *argv[2] = {"SELECT", dbtext};

		snprintf(dbtext, sizeof(dbtext), "%d", db);
		appended &= redisAppendCommandArgv(c, 2, argv, NULL) == REDIS_OK;
		what[n++] = "SELECT";
	}
	/* the first reply proves the connection, whatever was sent */
	appended &= redisAppendCommand(c, "PING") == REDIS_OK;
	what[n++] = "PING";

	if (!appended)
		snprintf(err, QOE_REDIS_ERRLEN, "out of memory");
	else if (qoe_redis_exchange(c, n, replies, timeout_ms, err))
	{
		for (int i = 0; i < n && ok; i++)
			ok = reply_ok(replies[i], what[i], err);
		qoe_redis_free_replies(n, replies);
		if (ok)
			return c;
	}
	redisFree(c);
	return NULL;
}
