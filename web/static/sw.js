/* wartemarke's service worker: shows the notifier's Web Push messages (docs/protocol.md §8) and opens the
   ticket's tracking page when one is clicked. The page stored its own path (with `?lang=` when the reader
   chose a language) under its ticket's hash in the cache "wartemarke-tickets" when it subscribed: the
   message names only the hash, never the token. */
"use strict";

var LINKS = "wartemarke-tickets";

function linkFor(data) {
  return caches.open(LINKS).then(function (cache) {
    return cache.match("/ticket/" + (data && data.ticket));
  }).then(function (found) {
    return found ? found.text() : (data && data.fallback_url) || "/";
  });
}
self.wartemarkeLinkFor = linkFor;  /* for tests: what a click opens */

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  if (!data.title) { return; }
  /* The same tag replaces a notification shown before (a copy sent again after a crash) instead of adding one. */
  event.waitUntil(self.registration.showNotification(data.title, {
    body: data.body || "", tag: data.tag, lang: data.lang, renotify: false,
    requireInteraction: data.kind === "called" || data.kind === "recalled",
    vibrate: [400, 200, 400], data: {ticket: data.ticket, fallback_url: data.fallback_url}
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(linkFor(event.notification.data).then(function (path) {
    return self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (open) {
      for (var i = 0; i < open.length; i++) {
        if (new URL(open[i].url).pathname === new URL(path, self.location.origin).pathname && "focus" in open[i]) {
          return open[i].focus();
        }
      }
      return self.clients.openWindow(path);
    });
  }));
});

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });
