/*
 * embed.js: put a confd meeting in your page.
 *
 *   <div id="meeting" style="height: 600px"></div>
 *   <script src="https://confd.example/embed.js"></script>
 *   <script>
 *     const m = new ConfdMeeting(document.getElementById('meeting'), { room: '3500', name: 'Ada' });
 *     m.on('joined', (e) => console.log('in room', e.room));
 *     m.mute();
 *   </script>
 *
 * Options: room (required), name, token (a join token from your backend),
 * pin, prejoin (show the camera check first; default true), audioMuted,
 * videoMuted, width and height (CSS sizes, default 100%), title, server
 * (confd's origin; default: where this script came from), loadTimeout (ms).
 *
 * Commands: mute(), unmute(), toggleAudio(), toggleVideo(), shareScreen(),
 * sendChat(text), raiseHand([up]), leave(), join() (with the camera check).
 * Events (on/off): ready, joined, left, participantJoined,
 * participantLeft, talking, chat, muted, videoMuted, handRaised,
 * screenShare, reconnected, roomChanged, error.
 *
 * Messages go to confd's origin only, and only messages from the meeting's
 * own frame and origin are taken. confd lets a page frame the meeting only
 * when its origin is listed in web.embed_origins.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;

  function ConfdMeeting(parent, options) {
    if (!(this instanceof ConfdMeeting)) {
      throw new TypeError('use new ConfdMeeting(element, options)');
    }
    var o = options || {};
    var el = typeof parent === 'string' ? document.querySelector(parent) : parent;
    if (!el || !el.appendChild) {
      throw new TypeError('ConfdMeeting: no element to put the meeting in');
    }
    if (!o.room) {
      throw new TypeError('ConfdMeeting: options.room is required');
    }
    this.origin = new URL(o.server || scriptOrigin, location.href).origin;
    this.room = String(o.room);
    this._handlers = {};
    this._queue = [];
    this._ready = false;
    this._disposed = false;

    var p = new URLSearchParams();
    p.set('origin', location.origin);
    if (o.name) p.set('name', String(o.name));
    if (o.token) p.set('token', String(o.token));
    if (o.pin) p.set('pin', String(o.pin));
    p.set('prejoin', o.prejoin === false ? '0' : '1');
    if (o.audioMuted) p.set('muted', '1');
    if (o.videoMuted) p.set('video', '0');

    var frame = document.createElement('iframe');
    frame.allow = 'camera; microphone; display-capture; autoplay; fullscreen';
    frame.setAttribute('allowfullscreen', '');
    frame.title = o.title || 'Meeting ' + this.room;
    frame.style.border = '0';
    frame.style.width = o.width || '100%';
    frame.style.height = o.height || '100%';
    frame.style.display = 'block';
    // The settings travel in the fragment, which never reaches a server.
    frame.src = this.origin + '/embed/' + encodeURIComponent(this.room) + '#' + p.toString();
    this.iframe = frame;

    var self = this;
    this._onMessage = function (ev) { self._receive(ev); };
    window.addEventListener('message', this._onMessage);
    this._timer = setTimeout(function () {
      if (!self._ready && !self._disposed) {
        self._emit('error', { message: 'the meeting did not load: is this site allowed to embed it (web.embed_origins)?' });
      }
    }, o.loadTimeout || 15000);
    el.appendChild(frame);
  }

  ConfdMeeting.prototype.on = function (name, f) {
    (this._handlers[name] = this._handlers[name] || []).push(f);
    return this;
  };

  ConfdMeeting.prototype.off = function (name, f) {
    var list = this._handlers[name] || [];
    var i = list.indexOf(f);
    if (i >= 0) list.splice(i, 1);
    return this;
  };

  ConfdMeeting.prototype._emit = function (name, data) {
    var list = (this._handlers[name] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try {
        list[i](data);
      } catch (err) {
        setTimeout(function () { throw err; });
      }
    }
  };

  ConfdMeeting.prototype._receive = function (ev) {
    if (ev.origin !== this.origin || ev.source !== this.iframe.contentWindow) {
      return;
    }
    var m = ev.data;
    if (!m || m.confd !== 1 || m.type !== 'event' || typeof m.name !== 'string') {
      return;
    }
    if (m.name === 'ready' && !this._ready) {
      this._ready = true;
      clearTimeout(this._timer);
      var queued = this._queue.splice(0);
      for (var i = 0; i < queued.length; i++) this._post(queued[i][0], queued[i][1]);
    }
    this._emit(m.name, m.data || {});
  };

  ConfdMeeting.prototype._post = function (name, args) {
    if (this._disposed) return;
    if (!this._ready) {
      this._queue.push([name, args]);
      return;
    }
    this.iframe.contentWindow.postMessage({ confd: 1, type: 'command', name: name, args: args }, this.origin);
  };

  ConfdMeeting.prototype.mute = function () { this._post('mute', []); };
  ConfdMeeting.prototype.unmute = function () { this._post('unmute', []); };
  ConfdMeeting.prototype.toggleAudio = function () { this._post('toggleAudio', []); };
  ConfdMeeting.prototype.toggleVideo = function () { this._post('toggleVideo', []); };
  ConfdMeeting.prototype.shareScreen = function () { this._post('shareScreen', []); };
  ConfdMeeting.prototype.sendChat = function (text) { this._post('sendChat', [String(text)]); };
  ConfdMeeting.prototype.raiseHand = function (up) { this._post('raiseHand', typeof up === 'boolean' ? [up] : []); };
  ConfdMeeting.prototype.leave = function () { this._post('leave', []); };
  ConfdMeeting.prototype.join = function () { this._post('join', []); };

  /** dispose removes the meeting from the page (leaving it). */
  ConfdMeeting.prototype.dispose = function () {
    if (this._disposed) return;
    this._disposed = true;
    clearTimeout(this._timer);
    window.removeEventListener('message', this._onMessage);
    this.iframe.remove();
  };

  window.ConfdMeeting = ConfdMeeting;
})();
