GET /static/app.js

