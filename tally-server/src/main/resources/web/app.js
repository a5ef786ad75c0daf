// The like-button page: one post's likes, views and live viewers, updated live over Server-Sent
// Events, with polling (and heartbeats, so this viewer still counts as watching) when EventSource
// is missing or keeps failing. The API is documented in docs/api.md.
(function () {
  'use strict';

  var match = location.pathname.match(/^\/posts\/([1-9][0-9]{0,18})\/?$/);
  var postId = match ? match[1] : '1';
  var base = '/v1/' + postId;
  var likedKey = 'tally:liked:' + postId;
  var viewerKey = 'tally:viewer';
  // ?transport=polling skips EventSource, as a browser without it would
  var forcePolling = /[?&]transport=polling(&|$)/.test(location.search);
  var POLL_MS = 3000;
  var SSE_RETRY_MS = 30000;

  var el = {
    like: document.getElementById('like-button'),
    likes: document.getElementById('like-count'),
    views: document.getElementById('view-count'),
    live: document.getElementById('live-count'),
    badge: document.getElementById('live-badge'),
    conn: document.getElementById('conn-status'),
    share: document.getElementById('share-button'),
    label: document.getElementById('post-label'),
    toast: document.getElementById('toast')
  };

  // server values as last heard, and this browser's likes not yet acknowledged
  var server = { likes: null, views: null, live: null };
  var pendingLikes = 0;
  var liked = readLiked();
  var likeChain = Promise.resolve();

  el.label.textContent = 'Post #' + postId;
  document.title = 'Maya Lindqvist on tally · post ' + postId;

  // ---- rendering

  var exact = new Intl.NumberFormat('en-US');
  var compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

  function format(n) {
    if (n === null || n === undefined) return '–';
    return Math.abs(n) >= 10000 ? compact.format(n) : exact.format(n);
  }

  function setText(node, value) {
    var text = format(value);
    if (node.textContent === text) return;
    node.textContent = text;
    node.classList.remove('bump');
    void node.offsetWidth; // restart the animation
    node.classList.add('bump');
  }

  function render() {
    setText(el.likes, server.likes === null ? null : Math.max(0, server.likes + pendingLikes));
    setText(el.views, server.views);
    var live = server.live === null ? 0 : server.live;
    el.live.textContent = format(live);
    el.badge.setAttribute('data-count', String(live));
    el.like.setAttribute('aria-pressed', liked ? 'true' : 'false');
    el.like.setAttribute('aria-label', liked ? 'Unlike' : 'Like');
  }

  function apply(counts) {
    if (!counts) return;
    if (counts.likes) server.likes = counts.likes.count;
    if (counts.views) server.views = counts.views.count;
    if (counts.live) server.live = counts.live.count;
    render();
  }

  function setConn(state, text) {
    el.conn.setAttribute('data-state', state);
    el.conn.textContent = text;
  }

  var toastTimer = 0;
  function toast(text) {
    el.toast.textContent = text;
    el.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.toast.hidden = true; }, 2500);
  }

  // ---- storage that may be unavailable (private windows, disabled storage)

  function readLiked() {
    try { return localStorage.getItem(likedKey) === '1'; } catch (e) { return false; }
  }

  function storeLiked(value) {
    try {
      if (value) localStorage.setItem(likedKey, '1'); else localStorage.removeItem(likedKey);
    } catch (e) { /* the state then lasts for this page only */ }
  }

  function viewerId() {
    try {
      var id = sessionStorage.getItem(viewerKey);
      if (!id) { id = uuid(); sessionStorage.setItem(viewerKey, id); }
      return id;
    } catch (e) {
      return viewerId.fallback || (viewerId.fallback = uuid());
    }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // ---- writes: each user action once, retried with the same Idempotency-Key

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function write(counter, action) {
    var key = uuid();
    var attempt = 0;
    function once() {
      attempt++;
      return fetch(base + '/' + counter, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ action: action })
      }).then(function (r) {
        if (r.ok) return r.json();
        if (r.status >= 500 && attempt < 4) return sleep(300 * attempt).then(once);
        throw new Error('write answered ' + r.status);
      }, function (err) {
        if (attempt < 4) return sleep(300 * attempt).then(once);
        throw err;
      });
    }
    return once();
  }

  el.like.addEventListener('click', function () {
    liked = !liked;
    storeLiked(liked);
    var delta = liked ? 1 : -1;
    pendingLikes += delta;
    el.like.classList.remove('pop');
    void el.like.offsetWidth;
    if (liked) el.like.classList.add('pop');
    render();
    // one write at a time, in click order
    likeChain = likeChain.then(function () {
      return write('likes', delta > 0 ? 'increment' : 'decrement').then(function (body) {
        pendingLikes -= delta;
        server.likes = body.count;
        render();
      }, function () {
        pendingLikes -= delta;
        liked = delta < 0;
        storeLiked(liked);
        render();
        toast('Could not save your like. Please try again.');
      });
    });
  });

  el.share.addEventListener('click', function () {
    var url = location.origin + '/posts/' + postId;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () { toast('Link copied'); },
        function () { toast(url); });
    } else {
      toast(url);
    }
  });

  // ---- live updates: EventSource first, polling as the fallback

  var source = null;
  var failures = 0;
  var pollTimer = 0;
  var heartbeatTimer = 0;
  var retryTimer = 0;
  var leaving = false;

  function connect() {
    if (!window.EventSource || forcePolling) { startPolling(); return; }
    stopPolling();
    setConn('connecting', 'Connecting…');
    source = new EventSource(base + '/stream');
    source.onopen = function () { failures = 0; setConn('live', 'Live'); };
    source.onmessage = function (e) {
      failures = 0;
      setConn('live', 'Live');
      try { apply(JSON.parse(e.data).counts); } catch (err) { /* ignore a malformed event */ }
    };
    source.onerror = function () {
      failures++;
      setConn('connecting', 'Reconnecting…');
      // a page being left also sees its stream fail: decide a moment later, if still here
      var failed = source;
      setTimeout(function () {
        if (leaving || source !== failed) return;
        if (failed.readyState === EventSource.CLOSED || failures >= 3) {
          failed.close();
          source = null;
          startPolling();
          clearTimeout(retryTimer);
          retryTimer = setTimeout(connect, SSE_RETRY_MS);
        }
      }, 1000);
    };
  }

  function startPolling() {
    if (pollTimer || leaving) return;
    setConn('polling', 'Updating every few seconds');
    poll();
    heartbeat();
    pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    clearTimeout(heartbeatTimer);
    pollTimer = 0;
    heartbeatTimer = 0;
  }

  function getJson(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(url + ' answered ' + r.status);
      return r.json();
    });
  }

  function poll() {
    Promise.all([getJson('/v1/counts?posts=' + postId), getJson(base + '/live')]).then(
      function (res) {
        var counts = res[0].counts[postId] || {};
        counts.live = res[1];
        apply(counts);
        if (pollTimer) setConn('polling', 'Updating every few seconds');
      },
      function () { setConn('offline', 'Offline — retrying'); });
  }

  // while polling, heartbeats count this viewer as watching
  function heartbeat() {
    fetch(base + '/heartbeat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ viewer_id: viewerId() })
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      var ttl = body && body.ttl_seconds ? body.ttl_seconds : 30;
      if (pollTimer) heartbeatTimer = setTimeout(heartbeat, Math.max(1000, ttl * 500));
    }, function () {
      if (pollTimer) heartbeatTimer = setTimeout(heartbeat, 5000);
    });
  }

  // a view is counted once per page load
  write('views', 'increment').then(function (body) {
    if (server.views === null || body.count > server.views) { server.views = body.count; render(); }
  }, function () { /* a lost view is not worth bothering the reader */ });

  // leaving the page ends the stream at once, so this viewer stops counting as watching
  function leave() {
    leaving = true;
    if (source) { source.close(); source = null; }
    clearTimeout(retryTimer);
    stopPolling();
  }
  window.addEventListener('beforeunload', leave);
  window.addEventListener('pagehide', leave);
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) { leaving = false; connect(); } // back from the back/forward cache
  });

  render();
  connect();
})();
