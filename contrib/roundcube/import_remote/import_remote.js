/**
 * Import mail (dovecot-import-remote): the Settings page's form, progress
 * bar, history and error guide. Every value shown comes from the server
 * (a source server's text among them) and is set as text, never as HTML.
 *
 * @license GNU GPLv3+
 */

window.rcmail && rcmail.addEventListener('init', function() {
  if (rcmail.env.action != 'plugin.import_remote')
    return;

  var poll_timer = null, last_jobs = [], busy = false, shown = {};

  // the label with its $names replaced in one pass: a value (a folder's
  // name from the source server) is inserted as it is, never read for
  // $names or replacement patterns itself
  function label(name, vars) {
    var text = rcmail.get_label('import_remote.' + name);
    vars = vars || {};
    return text.replace(/\$([a-z]+)/g, function(m, k) {
      return Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m;
    });
  }

  function size(bytes) {
    if (!bytes)
      return '0 B';
    var units = ['B', 'kB', 'MB', 'GB', 'TB'], i = 0;
    while (bytes >= 1024 && i < units.length - 1) {
      bytes /= 1024;
      i++;
    }
    return (i ? bytes.toFixed(1) : bytes) + ' ' + units[i];
  }

  function duration(secs) {
    if (secs < 0)
      return '';
    if (secs < 60)
      return secs + ' s';
    if (secs < 3600)
      return Math.round(secs / 60) + ' min';
    return (secs / 3600).toFixed(1) + ' h';
  }

  function when(t) {
    return t ? new Date(t * 1000).toLocaleString() : '';
  }

  function is_live(job) {
    return job.status == 'queued' || job.status == 'preparing' || job.status == 'running';
  }

  // the share done: bytes (what takes the time), else messages, of what
  // the folders listed so far hold, no further than the folder being
  // copied; the totals grow as folders are listed, so the bar never goes
  // back; 100 once completed
  function percent(job) {
    if (job.status == 'completed')
      return 100;
    var p = 0;
    if (job.bytes_total > 0)
      p = 100 * job.bytes_done / job.bytes_total;
    else if (job.messages_total > 0)
      p = 100 * job.messages_done / job.messages_total;
    if (job.folders_total > 0)
      p = Math.min(p, 100 * (job.folders_done + 1) / job.folders_total);
    p = Math.max(0, Math.min(99, Math.floor(p)));
    p = Math.max(p, shown[job.job] || 0);
    shown[job.job] = p;
    return p;
  }

  function show_error(text) {
    if (text)
      rcmail.display_message($('<div>').text(text).html(), 'error');
  }

  function render(jobs) {
    var job = jobs.length ? jobs[0] : null,
      box = $('#import-remote-status'), tbody = $('#import-remote-history tbody');

    last_jobs = jobs;
    if (!job) {
      box.hide();
    }
    else {
      var p = percent(job), live = is_live(job), progress = [];

      box.show().attr('data-status', job.status);
      $('#import-remote-state-label').text(label('status_' + job.status))
        .attr('class', 'import-remote-badge import-remote-' + job.status);
      $('#import-remote-source').text(job.user + ' @ ' + job.host);
      $('#import-remote-bar').attr('aria-valuenow', p);
      $('#import-remote-bar-fill').css('width', p + '%');
      $('#import-remote-percent').text(p + '%');

      if (job.messages_total > 0)
        progress.push(label('progress_messages', {done: Math.min(job.messages_done, job.messages_total), total: job.messages_total}));
      if (job.bytes_total > 0)
        progress.push(label('progress_bytes', {done: size(job.bytes_done), total: size(job.bytes_total)}));
      // the folder being copied: its name is the source server's, set as
      // text below (never as HTML)
      if (live && job.folder && job.folders_total > 0)
        progress.push(label('progress_folder', {done: Math.min(job.folders_done + 1, job.folders_total),
          total: job.folders_total, name: job.folder}));
      else if (job.folders_total > 0)
        progress.push(label('progress_folders', {done: job.folders_done, total: job.folders_total}));
      if (live && job.rate > 0)
        progress.push(label('progress_rate', {rate: size(job.rate)}));
      if (live && job.eta >= 0)
        progress.push(label('progress_eta', {eta: duration(job.eta)}));
      if (!live)
        progress.push(label('progress_result', {imported: job.imported, skipped: job.skipped, failed: job.failed}));
      $('#import-remote-progress').text(progress.join(' · '));

      if (job.error && job.status != 'cancelled') {
        $('#import-remote-error').show();
        $('#import-remote-error-title').text(job.error_title || job.error);
        $('#import-remote-error-hint').text(job.error_hint || '');
      }
      else {
        $('#import-remote-error').hide();
      }

      $('#import-remote-cancel').toggle(live);
      $('#import-remote-retry').toggle(job.status == 'failed' && !job.retried_as);
      $('#import-remote-rerun').toggle(!live);
      $('#import-remote-start').prop('disabled', live);
    }

    tbody.empty();
    $.each(jobs, function(i, job) {
      var row = $('<tr>').attr('data-job', job.job);
      row.append($('<td>').text(when(job.started || job.created)));
      row.append($('<td>').text(job.user + ' @ ' + job.host + ':' + job.port));
      row.append($('<td>').addClass('import-remote-' + job.status).text(label('status_' + job.status)));
      row.append($('<td>').text(job.imported));
      row.append($('<td>').text(job.skipped));
      row.append($('<td>').text(job.failed));
      row.append($('<td>').text(job.error && job.status != 'cancelled' ? (job.error_title || job.error) : ''));
      tbody.append(row);
    });
    $('#import-remote-history').toggle(jobs.length > 0);
    $('#import-remote-history-empty').toggle(jobs.length == 0);

    schedule(job && is_live(job));
  }

  function schedule(live) {
    if (poll_timer)
      clearTimeout(poll_timer);
    // fast while an import is live, slowly after
    poll_timer = setTimeout(refresh, (live ? 1 : 15) * 1000 * (rcmail.env.import_remote_interval || 2) / 2);
  }

  function refresh() {
    if (!busy)
      rcmail.http_get('plugin.import_remote-status', {}, false);
    else
      schedule(true);
  }

  rcmail.addEventListener('plugin.import_remote_update', function(data) {
    busy = false;
    $('#import-remote-start').prop('disabled', false);
    if (data.error)
      show_error(data.error);
    else if (data.message)
      rcmail.display_message($('<div>').text(data.message).html(), 'confirmation');
    render(data.jobs || []);
  });

  function apply_preset() {
    var name = $('#import-remote-preset').val(), preset = (rcmail.env.import_remote_presets || {})[name];

    if (preset) {
      $('#import-remote-host').val(preset.host);
      $('#import-remote-port').val(preset.port);
      $('#import-remote-security').val(preset.security);
    }
    $('#import-remote-preset-hint').text(label('presethint_' + name));
  }

  // the form's rows for the sign-in chosen: a password; an OAuth2 token
  // (Gmail and Microsoft 365 presets only: the request's provider); the
  // server's own sign-in (no source at all)
  function row(id) {
    return $('#' + id).closest('tr');
  }

  function apply_auth() {
    var auth = $('#import-remote-auth'), preset = $('#import-remote-preset').val(),
      token_ok = $.inArray(preset, rcmail.env.import_remote_token_presets || []) >= 0,
      kind = $('#import-remote-token-kind').val();

    auth.find('option[value=token]').prop('disabled', !token_ok);
    if (auth.val() == 'token' && !token_ok)
      auth.val('password');

    var mode = auth.val();
    $.each(['preset', 'host', 'port', 'security', 'user'], function(i, id) {
      row('import-remote-' + id).toggle(mode != 'server');
    });
    row('import-remote-pass').toggle(mode == 'password');
    row('import-remote-token-kind').toggle(mode == 'token');
    row('import-remote-token').toggle(mode == 'token');
    row('import-remote-client-id').toggle(mode == 'token' && kind != 'access');
    $('#import-remote-auth-hint').text(mode == 'password' ? '' : label('authhint_' + mode));
  }

  $('#import-remote-preset').on('change', apply_preset);
  $('#import-remote-preset').on('change', apply_auth);
  $('#import-remote-auth, #import-remote-token-kind').on('change', apply_auth);
  $('#import-remote-security').on('change', function() {
    var port = $('#import-remote-port');
    if (this.value == 'starttls' && port.val() == '993')
      port.val('143');
    else if (this.value == 'imaps' && port.val() == '143')
      port.val('993');
  });

  $('#import-remote-form').on('submit', function(e) {
    e.preventDefault();
    var auth = $('#import-remote-auth').val() || 'password', data = {
      _auth: auth,
      _preset: $('#import-remote-preset').val(),
      _host: $.trim($('#import-remote-host').val()),
      _port: $('#import-remote-port').val(),
      _security: $('#import-remote-security').val(),
      _user: $.trim($('#import-remote-user').val()),
      _pass: $('#import-remote-pass').val(),
      _since: $('#import-remote-since').val(),
      _before: $('#import-remote-before').val(),
      _newest: $('#import-remote-newest').is(':checked') ? 1 : ''
    };

    if (auth == 'token') {
      data._pass = '';
      data._token = $.trim($('#import-remote-token').val());
      data._token_kind = $('#import-remote-token-kind').val();
      data._client_id = data._token_kind == 'access' ? '' : $.trim($('#import-remote-client-id').val());
      if (!data._user || !data._token || (data._token_kind != 'access' && !data._client_id)) {
        show_error(label('fillalltoken'));
        return false;
      }
    }
    else if (auth == 'server') {
      data._host = data._user = data._pass = '';
    }
    else if (!data._host || !data._user || !data._pass) {
      show_error(label('fillall'));
      return false;
    }
    busy = true;
    $('#import-remote-start').prop('disabled', true);
    rcmail.http_post('plugin.import_remote-start', data, rcmail.set_busy(true, 'loading'));
    // the password (or token) stays only as long as the request needs it
    $('#import-remote-pass').val('');
    $('#import-remote-token').val('');
    data = null;
    return false;
  });

  $('#import-remote-cancel').on('click', function() {
    busy = true;
    rcmail.http_post('plugin.import_remote-cancel', {}, rcmail.set_busy(true, 'loading'));
  });

  $('#import-remote-retry').on('click', function() {
    busy = true;
    rcmail.http_post('plugin.import_remote-retry', {}, rcmail.set_busy(true, 'loading'));
  });

  // the last import's source back in the form: only the password to type
  $('#import-remote-rerun').on('click', function() {
    var job = last_jobs[0];
    if (!job)
      return;
    $('#import-remote-preset').val('other');
    $('#import-remote-auth').val('password');
    apply_auth();
    $('#import-remote-host').val(job.host);
    $('#import-remote-port').val(job.port);
    $('#import-remote-security').val(job.security == 'starttls' ? 'starttls' : 'imaps');
    $('#import-remote-user').val(job.user);
    $('#import-remote-pass').val('').focus();
  });

  apply_preset();
  apply_auth();
  refresh();
});
