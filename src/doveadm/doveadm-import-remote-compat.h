#ifndef DOVEADM_IMPORT_REMOTE_COMPAT_H
#define DOVEADM_IMPORT_REMOTE_COMPAT_H

/* The doveadm APIs whose shape differs between Dovecot 2.3 and 2.4
   (doveadm-import-remote-compat.c); the engine's are in
   import-remote-compat.h. */

struct doveadm_cmd_context;
struct doveadm_cmd_param;
struct import_remote_config;

/* A mail command's init(): 2.4 dropped its args (the command reads its
   parameters from ctx->cctx, as ours always did) */
#if DOVECOT_PREREQ(2, 4, 0)
#  define DOVEADM_IMPORT_REMOTE_INIT_ARGS \
	struct doveadm_mail_cmd_context *_ctx
#  define DOVEADM_IMPORT_REMOTE_INIT_CALL(ctx) (ctx)
#else
#  define DOVEADM_IMPORT_REMOTE_INIT_ARGS \
	struct doveadm_mail_cmd_context *_ctx, \
	const char *const args[] ATTR_UNUSED
#  define DOVEADM_IMPORT_REMOTE_INIT_CALL(ctx) (ctx), NULL
#endif

/* The global import_remote_* settings of a command that has no user
   (2.3: doveadm's plugin { }; 2.4: the command's settings event). */
int doveadm_import_remote_global_config(struct doveadm_cmd_context *cctx,
		const struct import_remote_config **set_r,
		const char **error_r);

/* How an argument of ours is passed to doveadm's mail command wrapper,
   which looks the user up and runs init()/run(): 2.3's wrapper turns every
   non-positional parameter into a getopt option the command would have to
   parse itself, so ours are marked positional there (init() reads them by
   name); 2.4's passes the parameters as they are. */
void doveadm_import_remote_param_for_mail_cmd(struct doveadm_cmd_param *param);

#endif
