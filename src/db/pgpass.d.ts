/** pgpass (node-postgres' reader of ~/.pgpass / PGPASSFILE) ships no types. */
declare module 'pgpass' {
  interface ConnectionInfo {
    host?: string;
    port?: number | string;
    database?: string;
    user?: string;
  }
  function pgPass(connection: ConnectionInfo, callback: (password: string | undefined) => void): void;
  export = pgPass;
}
