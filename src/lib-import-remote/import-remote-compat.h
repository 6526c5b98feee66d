#ifndef IMPORT_REMOTE_COMPAT_H
#define IMPORT_REMOTE_COMPAT_H

/* Every Dovecot API this project uses whose shape differs between 2.3 and
   2.4 is called through here, so that supporting 2.4 (typed settings,
   settings_get()) changes this file only. */

struct mail_user;
struct mail_namespace;
struct ssl_iostream_settings;

/* The user's TLS client settings (ssl_client_ca_file/_dir, ...). */
void import_remote_compat_ssl_client_settings(struct mail_user *user,
		struct ssl_iostream_settings *ssl_set_r);

/* Call callback for every mailbox of the namespace's configuration that has
   a special_use (e.g. "\Sent"; several may be space-separated). Names are
   relative to the namespace prefix. */
typedef void import_remote_special_use_callback_t(const char *name,
						  const char *special_use,
						  void *context);
void import_remote_compat_special_use_mailboxes(struct mail_namespace *ns,
		import_remote_special_use_callback_t *callback, void *context);

/* A plugin { } setting of the user, NULL if unset */
const char *import_remote_compat_plugin_setting(struct mail_user *user,
						const char *name);

/* The storage the user may still fill before the quota is full, the
   smallest over all quota roots. Returns 1 if limited, 0 if there is no
   limit (or no quota plugin loaded), -1 on error. The quota plugin is
   looked up at run time, so the doveadm plugin loads without it. */
int import_remote_compat_quota_remaining(struct mail_user *user,
					 uint64_t *bytes_r,
					 const char **error_r);

/* Storage used and its limit (0 = unlimited) in the user's quota root
   named root_name, or, with root_name NULL, in the first root not named
   except_root (NULL: the first root). Returns 1, 0 if there is no such
   root (or no quota plugin), -1 on error. */
int import_remote_compat_quota_root_usage(struct mail_user *user,
					  const char *root_name,
					  const char *except_root,
					  uint64_t *used_r, uint64_t *limit_r,
					  const char **error_r);

#endif
