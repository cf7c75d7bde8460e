# Foreman daemon image: Node 20 + git + bash, production dependencies only. Code runs through tsx
# (a runtime dependency), so there is no build step: bin/foreman.js loads the TypeScript sources.
# The image does not contain the Temporal CLI: in a container Foreman talks to the Temporal server
# named by TEMPORAL_ADDRESS (see docker-compose.yml) instead of starting a dev server.
FROM node:20-bookworm-slim

# git (+ openssh-client for ssh remotes): workspaces are git worktrees/clones and Foreman pushes branches; bash: hooks and the
# agents' run_command; ca-certificates: HTTPS to the tracker, the SCM and the model endpoint;
# bubblewrap: the sandbox agent and QA commands run in (src/sandbox/; the container needs the
# security options in docker-compose.yml for it to create namespaces).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client bash ca-certificates bubblewrap \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    FOREMAN_HOME=/var/lib/foreman

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --chown=root:root . .

# Run as the image's unprivileged `node` user (uid 1000); it owns only FOREMAN_HOME (state, logs,
# transcripts, workspaces) and the issues folder docker-compose.yml shares between the daemon and
# its workers (a new volume takes this directory's owner), not the application code.
RUN mkdir -p "$FOREMAN_HOME" /var/lib/foreman-issues && chown node:node "$FOREMAN_HOME" /var/lib/foreman-issues
USER node
VOLUME ["/var/lib/foreman"]

EXPOSE 8787
ENTRYPOINT ["node", "bin/foreman.js"]
# Listening on 0.0.0.0 needs `server.token` in the policy (deploy/WORKFLOW.md: $FOREMAN_API_TOKEN);
# without one `foreman start` refuses to start (server_token_missing, exit 2).
CMD ["start", "/config/WORKFLOW.md", "--port", "8787", "--host", "0.0.0.0"]
