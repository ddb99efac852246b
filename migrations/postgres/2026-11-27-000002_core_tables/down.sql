DROP TABLE subjects;
DROP TABLE screenings;
DROP TABLE tokens;
DROP TABLE users;
DROP TABLE trials;
