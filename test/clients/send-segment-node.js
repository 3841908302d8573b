// Sends the messages of knit serve's client test with @segment/analytics-node.
// Usage: node send-segment-node.js <host> <writeKey> <prefix>
const { Analytics } = require('@segment/analytics-node');

const [host, writeKey, prefix] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, flushAt: 5, maxRetries: 2 });
analytics.on('error', (err) => { console.error('analytics-node error:', err); process.exitCode = 1; });

const anon = `${prefix}-anon`;
analytics.page({ anonymousId: anon, name: 'Decaf beans', messageId: `${prefix}-1`, properties: { url: 'https://shop.example/decaf' } });
analytics.track({ anonymousId: anon, event: 'Product Viewed', messageId: `${prefix}-2`, properties: { sku: 'D-1', price: 12.5 } });
analytics.identify({ anonymousId: anon, userId: `${prefix}-user`, messageId: `${prefix}-3`, traits: { email: `${prefix}@example.com`, loyaltyId: `${prefix}-L` } });
analytics.screen({ userId: `${prefix}-user`, name: 'Home', messageId: `${prefix}-4` });
analytics.group({ userId: `${prefix}-user`, groupId: 'g1', messageId: `${prefix}-5`, traits: { plan: 'gold' } });
analytics.alias({ userId: `${prefix}-user`, previousId: `${prefix}-old`, messageId: `${prefix}-6` });
analytics.closeAndFlush({ timeout: 20000 }).then(() => console.log('sent'));
