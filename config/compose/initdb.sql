-- One PostgreSQL server, one database per node of the compose federation (the MSP's
-- database is created by POSTGRES_DB). Each node migrates and grants its own.
CREATE DATABASE fabrikam OWNER trustdesk_owner;
CREATE DATABASE tailspin OWNER trustdesk_owner;
