// Apollo Client's own persisted-queries link, unchanged, against a live gateway.
// Usage: node apollo_apq.mjs URL ACCEPT
// Runs a query twice and a mutation once through one client, then the query through a second,
// fresh client (another browser: the server must already know the hash), and prints
// {"results": [...], "requests": [{method, hasQuery, status}, ...]} for
// tests/test_persisted_queries.py to judge. ACCEPT "default" keeps Apollo's own Accept header
// (application/graphql-response+json first); anything else replaces it (e.g. application/json,
// as Apollo Client 3 and other legacy clients send).
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const [url, accept] = process.argv.slice(2);
if (!url || !accept) {
  console.error('usage: node apollo_apq.mjs URL ACCEPT');
  process.exit(2);
}

const requests = [];
async function recordingFetch(input, init) {
  const target = new URL(typeof input === 'string' ? input : input.url);
  const hasQuery = init.method === 'GET'
    ? target.searchParams.has('query')
    : 'query' in JSON.parse(init.body);
  const response = await fetch(input, init);
  requests.push({ method: init.method, hasQuery, status: response.status });
  return response;
}

function makeClient() {
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash('sha256').update(text).digest('hex'),
    useGETForHashedQueries: true,
  });
  const http = new HttpLink({
    uri: url,
    fetch: recordingFetch,
    headers: accept === 'default' ? {} : { accept },
  });
  return new ApolloClient({ link: ApolloLink.from([persisted, http]), cache: new InMemoryCache() });
}

// A document no earlier run has registered, so the first request really misses.
const marker = `Probe${Date.now()}${Math.floor(Math.random() * 1e9)}`;
const query = gql(`query ${marker}($first: Int!) { products(first: $first) { totalCount edges { node { id name } } } }`);
const mutation = gql(`mutation Cart${marker} { cartCreate { cart { token } userErrors { code } } }`);

const results = [];
const first = makeClient();
for (let round = 0; round < 2; round++) {
  const { data, error } = await first.query({ query, variables: { first: 2 }, fetchPolicy: 'no-cache' });
  results.push({ step: `query ${round + 1}`, data: data ?? null, error: error ? String(error) : null });
}
{
  const { data, error } = await first.mutate({ mutation });
  results.push({ step: 'mutation', data: data ?? null, error: error ? String(error) : null });
}
{
  const { data, error } = await makeClient().query({ query, variables: { first: 2 }, fetchPolicy: 'no-cache' });
  results.push({ step: 'second client', data: data ?? null, error: error ? String(error) : null });
}
process.stdout.write(JSON.stringify({ results, requests }) + '\n');
