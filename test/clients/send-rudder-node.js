// Sends the messages of knit serve's client test with
// @rudderstack/rudder-sdk-node (gzip bodies).
// Usage: node send-rudder-node.js <dataPlaneUrl> <writeKey> <prefix>
const Analytics = require('@rudderstack/rudder-sdk-node');

const [dataPlaneUrl, writeKey, prefix] = process.argv.slice(2);
const client = new Analytics(writeKey, { dataPlaneUrl, flushAt: 20, flushInterval: 200, retryCount: 1, logLevel: 'error' });

const anon = `${prefix}-anon`;
client.page({ anonymousId: anon, name: 'Decaf beans', messageId: `${prefix}-1`, properties: { url: 'https://shop.example/decaf' } });
client.track({ anonymousId: anon, event: 'Product Viewed', messageId: `${prefix}-2`, properties: { sku: 'D-1', price: 12.5 } });
client.identify({ anonymousId: anon, userId: `${prefix}-user`, messageId: `${prefix}-3`, traits: { email: `${prefix}@example.com`, loyaltyId: `${prefix}-L` } });
client.screen({ userId: `${prefix}-user`, name: 'Home', messageId: `${prefix}-4` });
client.group({ userId: `${prefix}-user`, groupId: 'g1', messageId: `${prefix}-5`, traits: { plan: 'gold' } });
client.alias({ userId: `${prefix}-user`, previousId: `${prefix}-old`, messageId: `${prefix}-6` });
client.flush((err) => {
  if (err) { console.error('rudder error:', err); process.exit(1); }
  console.log('sent');
  process.exit(0);
});
