// Drive the official Customer.io Node clients (pinned in package.json / package-lock.json) against
// the sandbox. Run by tests/clients/test_node_clients.py with NODE_PATH at the installed
// node_modules and NODE_EXTRA_CA_CERTS at the sandbox's CA bundle. Reads the sandbox's hosts and
// credentials as JSON on stdin; prints one JSON object: every call's name and outcome.
'use strict';

const fs = require('fs');

const config = JSON.parse(fs.readFileSync(0, 'utf8'));
const creds = config.credentials;
const hosts = config.hosts;
const results = [];

async function step(client, name, call) {
  try {
    const body = await call();
    results.push({ client, name, ok: true, body: body === undefined ? null : body });
  } catch (err) {
    const status = err.statusCode || (err.response && err.response.status) || null;
    results.push({ client, name, ok: false, status, error: String(err.message || err).slice(0, 300) });
  }
}

async function node4() {
  // 4.x: `url` is the API root; https.request takes its port from the defaults, not from the URL.
  const { TrackClient, APIClient, SendEmailRequest, SendPushRequest, SendSMSRequest, SendInboxMessageRequest,
    SendInAppRequest } = require('customerio-node');
  const t = hosts['customerio-track'].us;
  const a = hosts['customerio-app'].us;
  const track = new TrackClient(creds.site_id, creds.track_api_key, { url: `${t.url}/api/v1`, port: t.port });
  const api = new APIClient(creds.app_api_key, { url: `${a.url}/v1`, port: a.port });
  const c = 'customerio-node@4';
  await step(c, 'identify', () => track.identify('n4-ada', { email: 'n4-ada@example.com', plan: 'pro' }));
  await step(c, 'track', () => track.track('n4-ada', { name: 'purchased', data: { total: 3 } }));
  await step(c, 'trackAnonymous', () => track.trackAnonymous('n4-anon', { name: 'viewed', data: { sku: 'x' } }));
  await step(c, 'trackPageView', () => track.trackPageView('n4-ada', 'https://example.com/'));
  await step(c, 'addDevice', () => track.addDevice('n4-ada', 'n4-tok', 'ios', { app_version: '4.0' }));
  await step(c, 'deleteDevice', () => track.deleteDevice('n4-ada', 'n4-tok'));
  await step(c, 'addDevice', () => track.addDevice('n4-ada', 'n4-tok2', 'android'));
  await step(c, 'identify', () => track.identify('n4-bo', { email: 'n4-bo@example.com', city: 'Rome' }));
  await step(c, 'mergeCustomers', () => track.mergeCustomers('id', 'n4-ada', 'id', 'n4-bo'));
  await step(c, 'identify', () => track.identify('n4-cy', {}));
  await step(c, 'suppress', () => track.suppress('n4-cy'));
  await step(c, 'unsuppress', () => track.unsuppress('n4-cy'));
  await step(c, 'identify', () => track.identify('n4-gone', {}));
  await step(c, 'destroy', () => track.destroy('n4-gone'));
  await step(c, 'sendEmail', () => api.sendEmail(new SendEmailRequest({
    transactional_message_id: 1, to: 'n4-ada@example.com', identifiers: { id: 'n4-ada' } })));
  const email = results[results.length - 1];
  await step(c, 'trackPush', () => track.trackPush({ delivery_id: email.body && email.body.delivery_id,
    event: 'opened', device_id: 'n4-tok2', timestamp: 1700000000 }));
  await step(c, 'sendPush', () => api.sendPush(new SendPushRequest({
    transactional_message_id: 2, identifiers: { id: 'n4-ada' } })));
  await step(c, 'sendSMS', () => api.sendSMS(new SendSMSRequest({
    transactional_message_id: 3, to: '+15005550006', identifiers: { id: 'n4-ada' } })));
  await step(c, 'sendInboxMessage', () => api.sendInboxMessage(new SendInboxMessageRequest({
    transactional_message_id: 1, identifiers: { id: 'n4-ada' } })));
  await step(c, 'sendInApp', () => api.sendInApp(new SendInAppRequest({
    transactional_message_id: 1, identifiers: { id: 'n4-ada' } })));
  await step(c, 'getCustomersByEmail', () => api.getCustomersByEmail('n4-ada@example.com'));
  await step(c, 'getAttributes', () => api.getAttributes('n4-ada'));
  // 4.x posts to the legacy /v1/api/campaigns/{id}/triggers path.
  await step(c, 'triggerBroadcast', () => api.triggerBroadcast(1, { headline: 'hi' }, { ids: ['n4-ada'] }));
  await step(c, 'createCustomersExport', () => api.createCustomersExport({ attribute: {
    field: 'plan', operator: 'eq', value: 'pro' } }));
  await step(c, 'createDeliveriesExport', () => api.createDeliveriesExport(1));
  await step(c, 'listExports', () => api.listExports());
  await step(c, 'getExport', () => api.getExport(1));
  await step(c, 'downloadExport', () => api.downloadExport(1));
}

async function node5() {
  // 5.x: fetch-based; `url` (with its port) is the API root, for Track, App and Pipelines alike.
  const { TrackClient, APIClient, PipelinesClient, SendEmailRequest } = require('customerio-node-5');
  const t = hosts['customerio-track'].us;
  const a = hosts['customerio-app'].us;
  const p = hosts['customerio-pipelines'].us;
  const track = new TrackClient(creds.site_id, creds.track_api_key, { url: `${t.url}/api/v1`, retry: false });
  const api = new APIClient(creds.app_api_key, { url: `${a.url}/v1`, retry: false });
  const cdp = new PipelinesClient(creds.pipelines_api_key, { url: `${p.url}/v1`, retry: false });
  const c = 'customerio-node@5';
  await step(c, 'identify', () => track.identify('n5-ada', { email: 'n5-ada@example.com' }));
  await step(c, 'track', () => track.track('n5-ada', { name: 'n5_event' }));
  await step(c, 'trackAnonymous', () => track.trackAnonymous('n5-anon', { name: 'n5_anon' }));
  await step(c, 'trackPageView', () => track.trackPageView('n5-ada', 'https://example.com/n5'));
  await step(c, 'addDevice', () => track.addDevice('n5-ada', 'n5-tok', 'ios', { app_version: '5.0' }));
  await step(c, 'deleteDevice', () => track.deleteDevice('n5-ada', 'n5-tok'));
  await step(c, 'batch', () => track.batch([{ type: 'person', action: 'identify', identifiers: { id: 'n5-bo' },
    attributes: { tier: 'gold' } }]));
  await step(c, 'entity', () => track.entity({ type: 'person', action: 'event', identifiers: { id: 'n5-bo' },
    name: 'n5_entity' }));
  await step(c, 'mergeCustomers', () => track.mergeCustomers('id', 'n5-ada', 'id', 'n5-bo'));
  await step(c, 'getAccountRegion', () => track.getAccountRegion());
  await step(c, 'addCustomersToSegment', () => track.addCustomersToSegment(1, ['n5-ada']));
  await step(c, 'removeCustomersFromSegment', () => track.removeCustomersFromSegment(1, ['n5-ada']));
  await step(c, 'addCustomersToSegment', () => track.addCustomersToSegment(2, ['n5-ada']));
  await step(c, 'submitForm', () => track.submitForm('n5-form', { email: 'n5-form@example.com' }));
  await step(c, 'suppress', () => track.suppress('n5-anon-user'));
  await step(c, 'unsuppress', () => track.unsuppress('n5-anon-user'));
  await step(c, 'identify', () => track.identify('n5-gone', {}));
  await step(c, 'destroy', () => track.destroy('n5-gone'));
  await step(c, 'sendEmail', () => api.sendEmail(new SendEmailRequest({
    transactional_message_id: 1, to: 'n5-ada@example.com', identifiers: { id: 'n5-ada' } })));
  const email = results[results.length - 1];
  const delivery = email.body && email.body.delivery_id;
  await step(c, 'reportMetric', () => track.reportMetric({ delivery_id: delivery, metric: 'clicked',
    timestamp: 1700000000 }));
  await step(c, 'trackPush', () => track.trackPush({ delivery_id: delivery, event: 'opened',
    device_id: 'n5-tok', timestamp: 1700000001 }));
  await step(c, 'unsubscribe', () => track.unsubscribe(delivery));
  await step(c, 'triggerBroadcast', () => api.triggerBroadcast(2, { headline: 'n5' }, { ids: ['n5-ada'] }));
  await step(c, 'getAttributes', () => api.getAttributes('n5-ada'));
  await step(c, 'pipelines.identify', () => cdp.identify({ userId: 'n5-cdp', traits: { plan: 'team' } }));
  await step(c, 'pipelines.track', () => cdp.track({ userId: 'n5-cdp', event: 'n5 cdp event',
    timestamp: '2024-03-01T12:00:00.000Z' }));
  await step(c, 'pipelines.page', () => cdp.page({ userId: 'n5-cdp', name: 'n5 page' }));
  await step(c, 'pipelines.screen', () => cdp.screen({ userId: 'n5-cdp', name: 'n5 screen' }));
  await step(c, 'pipelines.group', () => cdp.group({ userId: 'n5-cdp', groupId: 'n5-org', traits: { name: 'Org' } }));
  await step(c, 'pipelines.alias', () => cdp.alias({ userId: 'n5-cdp', previousId: 'n5-prev' }));
  await step(c, 'pipelines.batch', () => cdp.batch([{ type: 'track', userId: 'n5-cdp', event: 'n5 batched' }]));
}

async function cdpAnalytics() {
  // @customerio/cdp-analytics-node builds `new URL(path || '/v1/batch', host)`: the host root only.
  const { Analytics } = require('@customerio/cdp-analytics-node');
  const p = hosts['customerio-pipelines'].us;
  const analytics = new Analytics({ writeKey: creds.pipelines_api_key, host: p.url, flushInterval: 50,
    maxRetries: 0 });
  const c = '@customerio/cdp-analytics-node';
  const delivered = (name, call) => step(c, name, () => new Promise((resolve, reject) => {
    call((err) => (err ? reject(err) : resolve(null)));
  }));
  await delivered('identify', (cb) => analytics.identify({ userId: 'na-ada', traits: { email: 'na@example.com' } }, cb));
  await delivered('track', (cb) => analytics.track({ userId: 'na-ada', event: 'na event',
    timestamp: new Date('2024-03-01T12:00:00Z') }, cb));
  await delivered('page', (cb) => analytics.page({ userId: 'na-ada', name: 'na page' }, cb));
  await delivered('screen', (cb) => analytics.screen({ userId: 'na-ada', name: 'na screen' }, cb));
  await delivered('group', (cb) => analytics.group({ userId: 'na-ada', groupId: 'na-org', traits: { name: 'NA' } }, cb));
  await delivered('alias', (cb) => analytics.alias({ userId: 'na-ada', previousId: 'na-prev' }, cb));
  await step(c, 'closeAndFlush', () => analytics.closeAndFlush({ timeout: 5000 }));
}

(async () => {
  const which = config.clients || ['node4', 'node5', 'cdp'];
  if (which.includes('node4')) await node4();
  if (which.includes('node5')) await node5();
  if (which.includes('cdp')) await cdpAnalytics();
  process.stdout.write(JSON.stringify({ node: process.version, results }));
})().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
