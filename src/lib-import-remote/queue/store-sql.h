#ifndef STORE_SQL_H
#define STORE_SQL_H

/* The one way the store's files (jobs, batches, triggers, failed
   messages, the outbox) talk to lib-sql: a statement with its parameters
   bound in order, rows read by a callback. Each store keeps only its own
   queries and what a row means. */

struct job_store;
struct sql_result;
struct sql_statement;
struct sql_transaction_context;

enum store_param_type {
	STORE_PARAM_STR,
	STORE_PARAM_NUM,
};

struct store_param {
	enum store_param_type type;
	const char *str;
	long long num;
};

ARRAY_DEFINE_TYPE(store_param, struct store_param);

#define STORE_STR(value) { .type = STORE_PARAM_STR, .str = (value) }
#define STORE_NUM(value) { .type = STORE_PARAM_NUM, .num = (value) }

/* A statement of the store's database with its ? parameters bound in the
   order given: store_stmt(store, "… WHERE a = ? AND b = ?",
   STORE_STR(a), STORE_NUM(b)) */
#define store_stmt(store, query, ...) \
	store_stmt_bind(store, query, \
		(const struct store_param[]){ __VA_ARGS__ }, \
		N_ELEMENTS(((const struct store_param[]){ __VA_ARGS__ })))
struct sql_statement *
store_stmt_bind(struct job_store *store, const char *query,
		const struct store_param *params, unsigned int count);

/* Commit and wait for the result */
/* A transaction of the store: on PostgreSQL, a lock waited for longer than
   30 s fails it */
struct sql_transaction_context *store_transaction_begin(struct job_store *store);
int store_commit(struct job_store *store,
		 struct sql_transaction_context **trans, const char **error_r);
/* Run one UPDATE (or DELETE) in a transaction of its own. Returns 1 if it
   changed a row, 0 if none, -1. An update fenced by a claim ("… AND
   worker = ?") changes nothing once another worker took the job over. */
int store_update(struct job_store *store, struct sql_statement *stmt,
		 const char **error_r);

typedef void store_row_callback_t(struct sql_result *result, void *context);
/* Runs a SELECT (and frees it) and hands each row to read_row. Returns
   the number of rows read, or -1 with error_r set. */
#define store_query(stmt, read_row, context, error_r) \
	store_query_rows((stmt) - \
		CALLBACK_TYPECHECK(read_row, void (*)( \
			struct sql_result *, typeof(context))), \
		(store_row_callback_t *)read_row, context, error_r)
int store_query_rows(struct sql_statement **stmt,
		     store_row_callback_t *read_row, void *context,
		     const char **error_r);

/* A field of a row: "" or 0 when NULL or not a number */
const char *result_str(struct sql_result *result, pool_t pool,
		       unsigned int idx);
unsigned long long result_num(struct sql_result *result, unsigned int idx);

#endif
