// The GraphiQL page the gateway serves at GET /graphql. Everything it loads is bundled here by
// Vite from the pinned packages of package-lock.json: no CDN, no inline script or style, so the
// page works offline and under the strict Content-Security-Policy of gateway/graphiql.py.
import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import "@graphiql/plugin-explorer/style.css";
import "./page.css";

import { explorerPlugin } from "@graphiql/plugin-explorer";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL, HISTORY_PLUGIN } from "graphiql";
import { createElement, StrictMode } from "react";
import { createRoot } from "react-dom/client";

const DEFAULT_QUERY = `# The commerce gateway's GraphQL API.
#
# Run: Ctrl-Enter or the play button.
# Complete: Ctrl-Space. Docs: the book icon.
#
# Signed in? Put in Headers below
#   {"authorization": "Bearer <accessToken>"}
# It goes with every query and mutation,
# and in a subscription's connection_init.

query Products {
  products(first: 5) {
    totalCount
    edges {
      node {
        name
        priceRange { min { amount currency } }
      }
    }
  }
}
`;

// The endpoint is the page's own URL: queries and mutations over HTTP, subscriptions over a
// WebSocket on the same path (graphql-transport-ws, graphql-ws's client).
const endpoint = new URL(window.location.href);
endpoint.search = "";
endpoint.hash = "";
const subscriptionEndpoint = new URL(endpoint);
subscriptionEndpoint.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

const fetcher = createGraphiQLFetcher({
  url: endpoint.href,
  subscriptionUrl: subscriptionEndpoint.href,
  // The gateway answers neither @defer nor @stream: ask for a plain GraphQL response.
  enableIncrementalDelivery: false,
});

createRoot(document.getElementById("graphiql")).render(
  createElement(
    StrictMode,
    null,
    createElement(GraphiQL, {
      fetcher,
      // GraphiQL's own default (history) plus the query builder Strawberry's page had.
      plugins: [HISTORY_PLUGIN, explorerPlugin()],
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  ),
);
